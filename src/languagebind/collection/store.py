"""On-disk layout of an embedded collection, and its reader.

```
OUT/collection.json            settings (modality, shard size, model identity) and the file/shard counts
OUT/shard-000000.jsonl         one line per embedded file: {"id": "<path relative to the root>", "index": k}
OUT/shard-000000.failures.jsonl  one line per skipped file: {"id": ..., "index": k, "reason": ...} (if any)
OUT/shard-000000.npy           (rows, P) float32 L2-normalised embeddings, row i <-> line i of the .jsonl
OUT/failures.jsonl             all skipped files, merged once every shard is done
```
Shard ``k`` holds the files ``k*S .. (k+1)*S-1`` of the sorted walk. Every file is written atomically and the
``.npy`` last, so a shard is finished exactly when its ``.npy`` exists.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from languagebind.errors import InputError
from languagebind.utils.io import read_jsonl, save_npy_atomic, write_jsonl

MANIFEST = "collection.json"
FAILURES = "failures.jsonl"


def shard_stem(index: int) -> str:
    return f"shard-{index:06d}"


@dataclass(frozen=True)
class ShardFiles:
    """The paths of one shard's files."""

    directory: Path
    index: int

    @property
    def embeddings(self) -> Path:
        return self.directory / f"{shard_stem(self.index)}.npy"

    @property
    def ids(self) -> Path:
        return self.directory / f"{shard_stem(self.index)}.jsonl"

    @property
    def failures(self) -> Path:
        return self.directory / f"{shard_stem(self.index)}.failures.jsonl"

    def is_finished(self) -> bool:
        return self.embeddings.is_file() and self.ids.is_file()

    def write(self, rows: list[dict[str, Any]], embeddings: np.ndarray, failures: list[dict[str, Any]]) -> None:
        """Failures, then ids, then embeddings (the completion mark), each atomically."""
        if len(rows) != len(embeddings):
            raise ValueError(f"{len(rows)} ids for {len(embeddings)} embeddings")
        if failures:
            write_jsonl(self.failures, failures)
        else:
            self.failures.unlink(missing_ok=True)  # left by an interrupted earlier attempt
        write_jsonl(self.ids, rows)
        save_npy_atomic(self.embeddings, np.ascontiguousarray(embeddings, dtype=np.float32))

    def read_ids(self) -> list[dict[str, Any]]:
        return read_jsonl(self.ids)

    def read_failures(self) -> list[dict[str, Any]]:
        return read_jsonl(self.failures, missing_ok=True)

    def read_embeddings(self, mmap: bool = False) -> np.ndarray:
        return np.load(self.embeddings, mmap_mode="r" if mmap else None)


class CollectionReader:
    """Reads an output directory of ``embed_collection``: shards concatenated in order."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        path = self.directory / MANIFEST
        if not path.is_file():
            raise InputError(self.directory, f"not an embedded collection (no {MANIFEST})")
        self.manifest: dict[str, Any] = json.loads(path.read_text())
        self.num_shards = int(self.manifest["shards"])
        self.shards = [ShardFiles(self.directory, k) for k in range(self.num_shards)]

    def missing(self) -> list[int]:
        """Indices of the shards not finished yet."""
        return [s.index for s in self.shards if not s.is_finished()]

    @property
    def complete(self) -> bool:
        return not self.missing()

    def iter_shards(self, mmap: bool = False) -> Iterator[tuple[list[str], np.ndarray]]:
        """(ids, embeddings) per finished shard, in order; memory bounded by one shard."""
        for shard in self.shards:
            if shard.is_finished():
                yield [row["id"] for row in shard.read_ids()], shard.read_embeddings(mmap)

    def ids(self) -> list[str]:
        return [i for ids, _ in self.iter_shards(mmap=True) for i in ids]

    def embeddings(self, allow_partial: bool = False) -> np.ndarray:
        """All rows, (N, P) float32; raises unless complete (or ``allow_partial``)."""
        self._check_complete(allow_partial)
        parts = [emb for _, emb in self.iter_shards(mmap=True)]
        width = int(self.manifest.get("dim", 0))
        return np.concatenate(parts) if parts else np.empty((0, width), dtype=np.float32)

    def failures(self) -> list[dict[str, Any]]:
        """Every skipped file with its reason, in collection order."""
        return [row for shard in self.shards for row in shard.read_failures()]

    def _check_complete(self, allow_partial: bool) -> None:
        missing = self.missing()
        if missing and not allow_partial:
            raise InputError(self.directory, f"{len(missing)} of {self.num_shards} shards are not finished "
                                             f"(first: {shard_stem(missing[0])}); run the embedding again to resume")
