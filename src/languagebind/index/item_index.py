"""Search the demo's held-out items by text or by an item of another modality, with a faiss inner-product index.

```python
index = ItemIndex.build({"video": video_emb, "audio": audio_emb}, ids)
index.search(text_embedding, "audio", k=3)   # -> [(id, score), ...]
```
One exact (flat, inner product = cosine on L2-normalised rows) index per modality; ``save``/``load`` keep them
beside the run as ``<modality>.faiss`` plus ``ids.json``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from languagebind.errors import InputError
from languagebind.utils.io import atomic_write, write_json_atomic


class ItemIndex:
    """Per-modality faiss indexes over the same items (row ``i`` of every modality is item ``ids[i]``)."""

    def __init__(self, indexes: Mapping[str, object], ids: Sequence[str]) -> None:
        self.indexes = dict(indexes)
        self.ids = list(ids)

    @classmethod
    def build(cls, embeddings: Mapping[str, np.ndarray], ids: Sequence[str]) -> ItemIndex:
        """Index every modality's (N, D) L2-normalised embeddings."""
        import faiss

        indexes = {}
        for modality, emb in embeddings.items():
            array = np.ascontiguousarray(emb, dtype=np.float32)
            if array.ndim != 2 or len(array) != len(ids):
                raise InputError(modality, f"expected ({len(ids)}, D) embeddings, got shape {array.shape}")
            index = faiss.IndexFlatIP(array.shape[1])
            index.add(array)
            indexes[modality] = index
        return cls(indexes, ids)

    @property
    def modalities(self) -> list[str]:
        return list(self.indexes)

    def search(self, query: np.ndarray, modality: str, k: int = 5) -> list[list[tuple[str, float]]]:
        """(Q, D) or (D,) normalised queries -> for each, the top ``k`` (id, cosine) of ``modality``."""
        if modality not in self.indexes:
            raise InputError(modality, f"not indexed; indexed: {', '.join(self.modalities)}")
        queries = np.ascontiguousarray(np.atleast_2d(query), dtype=np.float32)
        scores, rows = self.indexes[modality].search(queries, min(k, len(self.ids)))
        return [[(self.ids[r], float(s)) for r, s in zip(row, score, strict=True) if r >= 0]
                for row, score in zip(rows, scores, strict=True)]

    def save(self, directory: str | Path) -> Path:
        """Write ``<modality>.faiss`` per modality and ``ids.json``."""
        import faiss

        directory = Path(directory)
        for modality, index in self.indexes.items():
            with atomic_write(directory / f"{modality}.faiss") as handle:
                handle.write(faiss.serialize_index(index).tobytes())
        write_json_atomic(directory / "ids.json", {"ids": self.ids, "modalities": self.modalities})
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> ItemIndex:
        """Read what ``save`` wrote."""
        import faiss

        directory = Path(directory)
        try:
            meta = json.loads((directory / "ids.json").read_text())
        except (OSError, ValueError) as err:
            raise InputError(directory, f"not a demo index directory ({err})") from err
        indexes = {m: faiss.deserialize_index(np.fromfile(directory / f"{m}.faiss", dtype=np.uint8))
                   for m in meta["modalities"]}
        return cls(indexes, meta["ids"])
