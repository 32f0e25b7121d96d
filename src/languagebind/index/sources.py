"""What an index is built from: the shards of ``languagebind embed`` (a collection directory) or arrays in memory.

A source yields blocks of ``(metadata rows, vectors)`` in a fixed order. Each metadata row has ``path`` (the file's
path relative to the collection root) and any extra JSON fields: the ones in the collection's shard lines and
the ones a ``--metadata`` JSON-lines file gives for that path (e.g. ``{"path": "a/1.jpg", "caption": "..."}``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from languagebind.collection.store import CollectionReader
from languagebind.errors import InputError
from languagebind.index.base import RESERVED_FIELDS, check_modality_name
from languagebind.utils.io import read_jsonl

Block = tuple[list[dict[str, Any]], np.ndarray]


class Source:
    """Vectors of one modality with one metadata row each."""

    modality: str
    dim: int
    rows: int
    root: str | None = None  # the collection's root directory, when it came from one

    def signature(self) -> dict[str, Any]:
        raise NotImplementedError

    def blocks(self) -> Iterator[Block]:
        raise NotImplementedError


def _extras(row: Mapping[str, Any], skip: Sequence[str] = ()) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in RESERVED_FIELDS and k not in skip}


class ArraySource(Source):
    """``(N, D)`` L2-normalised vectors with ``N`` metadata dicts (``path`` and any JSON fields)."""

    def __init__(self, modality: str, vectors: np.ndarray, rows: Sequence[Mapping[str, Any]]) -> None:
        self.modality = check_modality_name(modality)
        array = np.asarray(vectors)
        if array.ndim != 2 or len(array) != len(rows) or len(rows) == 0:
            raise InputError(modality, f"expected ({len(rows)}, D) vectors for {len(rows)} rows, got {array.shape}")
        self.vectors = np.ascontiguousarray(array, dtype=np.float32)
        _check_vectors(self.vectors, modality)
        self.metadata = [{"path": str(r.get("path", "")), **_extras(r)} for r in rows]
        self.dim, self.rows = self.vectors.shape[1], len(rows)

    def signature(self) -> dict[str, Any]:
        digest = hashlib.sha256(self.vectors.tobytes())
        digest.update(json.dumps(self.metadata, sort_keys=True, default=str).encode())
        return {"kind": "arrays", "modality": self.modality, "rows": self.rows, "sha256": digest.hexdigest()[:32]}

    def blocks(self) -> Iterator[Block]:
        for i in range(0, self.rows, 65536):
            yield self.metadata[i:i + 65536], self.vectors[i:i + 65536]


class CollectionSource(Source):
    """A finished ``languagebind embed DIR --out OUT`` directory (all shards), with optional extra metadata."""

    def __init__(self, directory: str | Path, extra: Mapping[str, Mapping[str, Any]] | None = None,
                 extra_signature: str = "") -> None:
        self.reader = CollectionReader(directory)
        missing = self.reader.missing()
        if missing:
            raise InputError(directory, f"{len(missing)} of {self.reader.num_shards} shards are not embedded yet; "
                                        "finish `languagebind embed` first (run it again to resume)")
        manifest = self.reader.manifest
        self.modality = check_modality_name(str(manifest.get("modality", "")))
        self.root = str(manifest.get("root", ""))
        self.extra = extra or {}
        self.extra_signature = extra_signature
        self.rows = sum(len(s.read_ids()) for s in self.reader.shards)
        if self.rows == 0:
            raise InputError(directory, "the collection holds no embedded items")
        self.dim = int(self.reader.shards[0].read_embeddings(mmap=True).shape[1])

    def signature(self) -> dict[str, Any]:
        stats = [(s.embeddings.stat().st_size, s.embeddings.stat().st_mtime_ns) for s in self.reader.shards]
        return {"kind": "collection", "path": str(self.reader.directory.resolve()), "modality": self.modality,
                "rows": self.rows, "model": self.reader.manifest.get("model"),
                "shards": hashlib.sha256(json.dumps(stats).encode()).hexdigest()[:16], "extra": self.extra_signature}

    def blocks(self) -> Iterator[Block]:
        for shard in self.reader.shards:
            lines = shard.read_ids()
            vectors = shard.read_embeddings(mmap=True)
            if len(lines) != len(vectors) or vectors.ndim != 2 or vectors.shape[1] != self.dim:
                raise InputError(shard.embeddings, f"holds {vectors.shape} for {len(lines)} ids (dim {self.dim})")
            rows = [{"path": line["id"], **_extras(line, ("index",)), **_extras(self.extra.get(line["id"], {}))}
                    for line in lines]
            yield rows, np.asarray(vectors, dtype=np.float32)


def read_extra_metadata(path: str | Path) -> tuple[dict[str, dict[str, Any]], str]:
    """A JSON-lines file of ``{"path": ..., <fields>}`` -> path -> fields, and a digest of the file."""
    path = Path(path)
    try:
        rows = read_jsonl(path)
    except (OSError, ValueError) as err:
        raise InputError(path, f"unreadable metadata file ({err})") from err
    out: dict[str, dict[str, Any]] = {}
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict) or not isinstance(row.get("path"), str):
            raise InputError(path, f"line {n}: expected a JSON object with a string \"path\"")
        out[row["path"]] = _extras(row)
    return out, hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _check_vectors(vectors: np.ndarray, what: str) -> None:
    if not np.isfinite(vectors).all():
        raise InputError(what, "vectors contain NaN or infinity")
    norms = np.linalg.norm(vectors, axis=1)
    if np.any(np.abs(norms - 1.0) > 1e-2):
        raise InputError(what, f"vectors must be L2-normalised (norms {norms.min():.3g} to {norms.max():.3g})")
