"""The embedded backend: the current version of an index directory (``languagebind.index.layout``) on faiss.

Per modality, by the type the build chose (``languagebind.index.choose``):
- ``flat``: exact inner product (``IndexFlatIP``), filled at open from the memory-mapped segment vectors;
- ``hnsw``: ``IndexHNSWFlat`` (exact scores of the graph's candidates), ``efSearch`` from the build's tuning;
- ``ivfpq``: OPQ rotation + ``IVF`` + ``PQ`` codes, memory-mapped from disk; the ``nprobe`` lists are scanned for
  ``k x rerank`` candidates, which are re-scored exactly on the memory-mapped float32 vectors.

Filters: the rows whose metadata match are found first (only the filtered columns are read); a flat index searches
them exactly through a faiss ``IDSelectorBitmap``; an approximate index brute-forces them exactly when there are at
most ``BRUTE_FORCE_ROWS`` (a selective filter, where graph / list search would miss), and otherwise searches with
the selector and falls back to the exact brute force for any query that got fewer than ``min(k, matches)`` hits.
So a filtered search returns ``k`` results whenever ``k`` items match.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

import numpy as np

from languagebind.errors import InputError
from languagebind.index.base import FilterValue, Hit, IndexStore, make_id
from languagebind.index.layout import open_version
from languagebind.index.segments import Segments

BRUTE_FORCE_ROWS = 65536


def top_k(scores: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per query, the ``k`` best (score, row) of ``scores`` (n, c) with ``rows`` (n, c) or (c,), best first;
    equal scores in row order, so the result does not depend on how candidates were gathered."""
    rows = np.broadcast_to(rows, scores.shape)
    k = min(k, scores.shape[1])
    if k < scores.shape[1]:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        scores, rows = np.take_along_axis(scores, part, 1), np.take_along_axis(rows, part, 1)
    order = np.lexsort((rows, -scores), axis=-1)
    return np.take_along_axis(scores, order, 1), np.take_along_axis(rows, order, 1)


class ModalityIndex:
    """One modality: its segments (vectors + metadata) and its faiss index."""

    def __init__(self, directory: Path, modality: str, entry: dict[str, Any], dim: int, mmap: bool) -> None:
        import faiss

        self.modality = modality
        self.count = int(entry["count"])
        self.segments = Segments(directory, [(s["name"], int(s["rows"])) for s in entry["segments"]])
        if self.segments.count != self.count:
            raise InputError(directory, f"segments hold {self.segments.count} rows, the manifest says {self.count}")
        self.info = dict(entry["index"])
        self.kind = self.info["type"]
        self.search_params = dict(self.info.get("search", {}))
        self._owner: Any = None
        if self.kind == "flat":
            self.index = faiss.IndexFlatIP(dim)
            for _, block in self.segments.iter_vectors():
                self.index.add(block)
        elif self.kind in ("hnsw", "ivfpq"):
            flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap and self.kind == "ivfpq" else 0
            self._owner = faiss.read_index(str(directory / self.info["file"]), flags)
            self.index = faiss.downcast_index(self._owner)
            if self.index.ntotal != self.count:
                raise InputError(directory, f"{self.info['file']} holds {self.index.ntotal} vectors, not {self.count}")
            if self.kind == "ivfpq":
                self.transform = faiss.downcast_VectorTransform(self.index.chain.at(0))
                self.ivf = faiss.downcast_index(self.index.index)
        else:
            raise InputError(directory, f"unknown index type {self.kind!r} for {modality}")

    def exact_among(self, queries: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact top ``k`` among ``rows`` (sorted row numbers), reading their vectors in blocks."""
        best_s = np.full((len(queries), 0), -np.inf, dtype=np.float32)
        best_r = np.empty((len(queries), 0), dtype=np.int64)
        for i in range(0, len(rows), 32768):
            block = rows[i:i + 32768]
            scores = queries @ self.segments.gather(block).T
            s, r = top_k(np.concatenate([best_s, scores], 1),
                         np.concatenate([best_r, np.broadcast_to(block, scores.shape)], 1), k)
            best_s, best_r = s, r
        return best_s, best_r

    def _selector(self, mask: np.ndarray | None) -> tuple[Any, Any]:
        import faiss

        if mask is None:
            return None, None
        bits = np.packbits(mask, bitorder="little")
        return faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits)), bits

    def approximate(self, queries: np.ndarray, k: int, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The index's own search (exact for ``flat``), restricted to ``mask`` when given."""
        import faiss

        selector, bits = self._selector(mask)
        if self.kind == "flat":
            params = faiss.SearchParameters(sel=selector) if selector is not None else None
            scores, rows = self.index.search(queries, k, params=params)
        elif self.kind == "hnsw":
            ef = max(int(self.search_params.get("efSearch", 64)), k)
            params = faiss.SearchParametersHNSW(efSearch=ef)
            if selector is not None:
                params.sel = selector
            scores, rows = self.index.search(queries, k, params=params)
        else:
            wide = min(self.count, k * int(self.search_params.get("rerank", 8)))
            params = faiss.SearchParametersIVF(nprobe=int(self.search_params.get("nprobe", 32)))
            if selector is not None:
                params.sel = selector
            _, candidates = self.ivf.search(self.transform.apply(queries), wide, params=params)
            scores, rows = self.rerank(queries, candidates, k)
        del bits
        return scores, rows

    def rerank(self, queries: np.ndarray, candidates: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact scores of each query's candidates (-1 = none) from the float32 vectors; the best ``k``."""
        valid = candidates >= 0
        vectors = self.segments.gather(np.where(valid, candidates, 0).ravel())
        vectors = vectors.reshape(*candidates.shape, -1)
        scores = np.einsum("qcd,qd->qc", vectors, queries)
        scores[~valid] = -np.inf
        s, r = top_k(scores, np.where(valid, candidates, -1), k)
        r[~np.isfinite(s)] = -1
        return s, r


class FaissIndex(IndexStore):
    """``open_index(directory)``: the current version of an index directory, searched with faiss."""

    backend = "faiss"

    def __init__(self, path: str | Path, mmap: bool = True) -> None:
        self.path = Path(path)
        self.version, self.manifest = open_version(self.path)
        self._dim = int(self.manifest["dim"])
        self._parts = {m: ModalityIndex(self.version / m, m, entry, self._dim, mmap)
                       for m, entry in self.manifest["modalities"].items()}
        self._lock = threading.Lock()

    @property
    def modalities(self) -> list[str]:
        return list(self._parts)

    @property
    def dim(self) -> int:
        return self._dim

    def count(self, modality: str) -> int:
        return self._parts[self.check_modality(modality)].count

    def fields(self, modality: str) -> list[str]:
        return self._parts[self.check_modality(modality)].segments.fields()

    def describe(self) -> dict[str, Any]:
        return {m: {"count": p.count, "index": p.kind, "search": p.search_params,
                    **{key: p.info[key] for key in ("factory", "recall_at_10", "memory_bytes") if key in p.info}}
                for m, p in self._parts.items()}

    def _search(self, modality: str, queries: np.ndarray, k: int,
                filters: dict[str, list[FilterValue]]) -> list[list[Hit]]:
        part = self._parts[modality]
        if k == 0:
            return [[] for _ in queries]
        if not filters:
            scores, rows = part.approximate(queries, k, None)
        else:
            mask = part.segments.mask(filters)
            matched = np.flatnonzero(mask)
            k = min(k, len(matched))
            if k == 0:
                return [[] for _ in queries]
            if part.kind != "flat" and len(matched) <= BRUTE_FORCE_ROWS:
                scores, rows = part.exact_among(queries, matched, k)
            else:
                scores, rows = part.approximate(queries, k, mask)
                short = np.flatnonzero((rows >= 0).sum(1) < k)
                if len(short):
                    scores[short], rows[short] = part.exact_among(queries[short], matched, k)
        return [[Hit(make_id(modality, int(r)), float(s), modality) for s, r in zip(srow, rrow, strict=True) if r >= 0]
                for srow, rrow in zip(scores, rows, strict=True)]

    def _metadata(self, rows: list[tuple[str, int]]) -> list[dict[str, Any] | None]:
        by_modality: dict[str, list[int]] = {}
        for m, r in rows:
            by_modality.setdefault(m, []).append(r)
        found = {m: iter(self._parts[m].segments.rows(rs)) for m, rs in by_modality.items()}
        return [next(found[m]) for m, _ in rows]

    def close(self) -> None:
        with contextlib.suppress(AttributeError):
            self._parts.clear()
