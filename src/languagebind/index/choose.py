"""Which faiss index a modality gets, under a memory budget, and the search settings that reach a target recall.

The rule (what autofaiss does, written out here because autofaiss pins ``numpy<2``):

1. up to ``exact_limit`` vectors (default 1,000,000) and when ``4·N·d`` bytes fit ``max_memory``: ``flat`` (exact);
2. else when an HNSW graph with its float32 vectors fits, ``N·(4·d + 8·M)·1.1`` bytes with ``M = 32``: ``hnsw``
   (``IndexHNSWFlat``, ``efConstruction = 40``);
3. else ``ivfpq``: ``OPQ{m}_{d'},IVF{nlist},PQ{m}`` with ``nlist`` the power of two nearest ``4·√N`` (at least 39
   training points per list), ``d' = min(d, 8·m)``, and the largest ``m`` in 64, 48, 32, 16, 8, 4 whose codes and ids,
   ``N·(m + 8)`` bytes plus centroids and rotation, fit ``max_memory``. The inverted lists are memory-mapped; the
   float32 vectors stay on disk (memory-mapped) for re-scoring the candidates.

After the build, ``tune`` picks the cheapest search settings (``efSearch`` for HNSW; ``nprobe`` and the re-rank
factor for IVF-PQ) whose recall@10 against exact search reaches ``target_recall`` (default 0.95) + ``TUNE_MARGIN``
(0.01) on ``TUNE_QUERIES`` of the indexed vectors used as queries (each query's own row excluded from both lists),
and records that recall.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from languagebind.errors import InputError

EXACT_LIMIT = 1_000_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 40
PQ_CHOICES = (64, 48, 32, 16, 8, 4)
TUNE_QUERIES = 256
TUNE_MARGIN = 0.01  # tuned on indexed vectors, aimed a little above the target for new queries
EF_SEARCH = (16, 32, 64, 128, 256, 512, 1024)
NPROBE = (8, 16, 32, 64, 128, 256, 512)
RERANK = (4, 8, 16, 32)
INDEX_TYPES = ("auto", "flat", "hnsw", "ivfpq")
OPQ_ITERATIONS = 12  # faiss's default is 50: most of the training time for little recall once candidates are re-scored
OPQ_TRAIN_POINTS = 32768


def flat_bytes(n: int, d: int) -> int:
    return 4 * n * d


def hnsw_bytes(n: int, d: int, m: int = HNSW_M) -> int:
    return int(n * (4 * d + 8 * m) * 1.1)


def ivf_lists(n: int) -> int:
    target = 4 * math.sqrt(n)
    nlist = 2 ** round(math.log2(max(target, 1)))
    return int(max(1, min(nlist, 65536, n // 39 or 1)))


def pq_out_dim(d: int, m: int) -> int | None:
    """The OPQ output size for ``m`` sub-quantizers: 8 dims each (faiss trains PQ far slower on fewer),
    at most ``d``; None when ``m`` does not fit ``d``."""
    d_out = min(d, 8 * m)
    return d_out if d_out % m == 0 and d_out // m >= 8 else None


def ivfpq_bytes(n: int, d: int, m: int) -> int:
    d_out = pq_out_dim(d, m) or d
    return n * (m + 8) + 4 * ivf_lists(n) * d_out + 4 * d * d_out


def memory_bytes(info: dict[str, Any], n: int, d: int) -> int:
    """The memory estimate of an index of ``info``'s type holding ``n`` vectors."""
    if info["type"] == "flat":
        return flat_bytes(n, d)
    if info["type"] == "hnsw":
        return hnsw_bytes(n, d, int(info["M"]))
    return ivfpq_bytes(n, d, int(info["pq_m"]))


def parse_bytes(text: str | int) -> int:
    """``"8G"``, ``"512M"``, ``"1.5GB"``, ``"1000000"`` -> bytes."""
    if isinstance(text, int):
        return text
    value = str(text).strip().upper().removesuffix("B").removesuffix("I")
    scale = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}.get(value[-1:], 1)
    try:
        number = float(value[:-1] if value[-1:] in "KMGT" else value)
    except ValueError:
        number = -1
    if not math.isfinite(number) or number <= 0:
        raise InputError(f"--max-memory {text}", "expected a size such as 4G, 512M or a number of bytes")
    return int(number * scale)


def choose(n: int, d: int, max_memory: int, exact_limit: int = EXACT_LIMIT, kind: str = "auto") -> dict[str, Any]:
    """The index description for ``n`` vectors of ``d`` dims (see the module docstring)."""
    if kind not in INDEX_TYPES:
        raise InputError(f"index type {kind}", f"expected one of {', '.join(INDEX_TYPES)}")
    if kind == "flat" or (kind == "auto" and n <= exact_limit and flat_bytes(n, d) <= max_memory):
        return {"type": "flat", "memory_bytes": flat_bytes(n, d)}
    if kind == "hnsw" or (kind == "auto" and hnsw_bytes(n, d) <= max_memory):
        return {"type": "hnsw", "M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION, "file": "index.faiss",
                "memory_bytes": hnsw_bytes(n, d)}
    usable = [m for m in PQ_CHOICES if pq_out_dim(d, m)]
    if not usable:
        raise InputError(f"dimension {d}", "too small for product quantization; use --index-type flat or hnsw")
    fitting = [m for m in usable if ivfpq_bytes(n, d, m) <= max_memory]
    if not fitting:
        if kind == "ivfpq":
            fitting = [usable[-1]]
        else:
            need = ivfpq_bytes(n, d, usable[-1])
            raise InputError(f"--max-memory {max_memory}", f"too small for {n} vectors of {d} dims: the smallest "
                                                           f"index (IVF-PQ{usable[-1]}) needs {need / 2**20:.0f} MiB")
    m = fitting[0]
    d_out, nlist = pq_out_dim(d, m), ivf_lists(n)
    bits = 8 if n >= 39 * 256 else 4  # enough training points for 256 (else 16) centroids per sub-quantizer
    return {"type": "ivfpq", "factory": f"OPQ{m}_{d_out},IVF{nlist},PQ{m}x{bits}", "nlist": nlist, "pq_m": m,
            "file": "index.faiss", "memory_bytes": ivfpq_bytes(n, d, m)}


def empty_index(info: dict[str, Any], d: int) -> Any:
    import faiss

    if info["type"] == "hnsw":
        index = faiss.IndexHNSWFlat(d, int(info["M"]), faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = int(info["efConstruction"])
        return index
    if info["type"] == "ivfpq":
        index = faiss.index_factory(d, info["factory"], faiss.METRIC_INNER_PRODUCT)
        opq = faiss.downcast_VectorTransform(faiss.downcast_index(index).chain.at(0))
        opq.niter, opq.max_train_points = OPQ_ITERATIONS, OPQ_TRAIN_POINTS  # the re-ranking makes up the rest
        return index
    raise ValueError(info["type"])


def training_rows(n: int, info: dict[str, Any], seed: int = 0) -> np.ndarray:
    """Sorted sample rows for training an IVF-PQ (enough for the lists and the 256 PQ centroids)."""
    if info["type"] != "ivfpq":
        return np.empty(0, dtype=np.int64)
    want = min(n, max(40 * int(info["nlist"]), 65536), 262144)
    return np.sort(np.random.default_rng(seed).choice(n, size=want, replace=False))


def recall_at(found: np.ndarray, truth: np.ndarray, k: int = 10) -> float:
    """Mean |found ∩ truth| / k over queries (the rows' first k entries; -1 = nothing)."""
    hits = [len(set(f[:k].tolist()) & set(t[:k].tolist()) - {-1}) for f, t in zip(found, truth, strict=True)]
    return float(np.mean(hits)) / k if hits else 1.0


def settings_to_try(info: dict[str, Any]) -> list[dict[str, int]]:
    """Search settings from the cheapest up (HNSW: efSearch; IVF-PQ: nprobe, then the re-rank factor)."""
    if info["type"] == "hnsw":
        return [{"efSearch": ef} for ef in EF_SEARCH]
    nlist = int(info["nlist"])
    probes = sorted({min(p, nlist) for p in NPROBE})
    return [{"nprobe": p, "rerank": r} for p in probes for r in RERANK]
