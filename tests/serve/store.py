"""The test index: built from in-memory embeddings (until the index package's builder lands, a numpy double of
the ``IndexStore`` interface: exact inner-product search, metadata by "<modality>:<row>" id)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from languagebind.errors import InputError

_ID = re.compile(r"([a-z][a-z0-9_]{0,31}):(0|[1-9][0-9]{0,11})")


def build_store(out: Path, embeddings: dict[str, np.ndarray], files: dict[str, list[str]],
                captions: dict[str, list[str]]) -> Path:
    """``files``: each item's path as the index records it (relative to the collection root)."""
    out.mkdir(parents=True, exist_ok=True)
    for m, emb in embeddings.items():
        np.save(out / f"{m}.npy", emb.astype(np.float32))
        rows = [{"id": f"{m}:{i}", "modality": m, "path": str(p), "source": "test", "caption": c}
                for i, (p, c) in enumerate(zip(files[m], captions[m], strict=True))]
        (out / f"{m}.json").write_text(json.dumps(rows))
    return out


class ArrayStore:
    backend = "test"

    def __init__(self, root: Path) -> None:
        self.vectors_by = {p.stem: np.load(p) for p in sorted(root.glob("*.npy"))}
        self.rows = {m: json.loads((root / f"{m}.json").read_text()) for m in self.vectors_by}

    @property
    def modalities(self) -> list[str]:
        return list(self.vectors_by)

    @property
    def dim(self) -> int:
        return next(iter(self.vectors_by.values())).shape[1]

    def count(self, modality: str) -> int:
        return len(self.rows[modality])

    def fields(self, modality: str) -> list[str]:
        return ["id", "modality", "path", "source", "caption"]

    def describe(self) -> dict[str, Any]:
        return {m: {"count": self.count(m), "index": "exact"} for m in self.modalities}

    def search(self, modality: str, queries: np.ndarray, k: int, filters: dict | None = None) -> list[list[Any]]:
        from types import SimpleNamespace

        if modality not in self.modalities:
            raise InputError(modality, "no such index")
        if not 1 <= k <= 10_000:
            raise InputError(f"k={k}", "k must be between 1 and 10000")
        for field, value in (filters or {}).items():
            if field not in self.fields(modality) or isinstance(value, dict):
                raise InputError(f"filter {field}", "values must be strings, numbers or booleans")
        out = []
        for q in queries:
            scores = self.vectors_by[modality] @ q
            wanted = {f: v if isinstance(v, list) else [v] for f, v in (filters or {}).items()}
            keep = [i for i in range(len(scores))
                    if all(self.rows[modality][i].get(f) in v for f, v in wanted.items())]
            order = sorted(keep, key=lambda i: -scores[i])[:k]
            out.append([SimpleNamespace(id=f"{modality}:{i}", score=float(scores[i]), modality=modality)
                        for i in order])
        return out

    def metadata(self, ids: list[str]) -> list[dict | None]:
        out = []
        for item in ids:
            match = _ID.fullmatch(item) if isinstance(item, str) else None
            if match is None:
                raise InputError(str(item)[:60], 'not an index id (expected "<modality>:<row>")')
            m, r = match.group(1), int(match.group(2))
            out.append(self.rows[m][r] if m in self.rows and r < len(self.rows[m]) else None)
        return out

    def close(self) -> None:
        pass


def open_store(root: Path) -> ArrayStore:
    return ArrayStore(root)
