"""Recall@10 of the index `languagebind index build` chooses, against exact search, at ~1M 768-d vectors.

    python benchmarks/index_recall.py [--rows 1048576] [--dim 768] [--max-memory 1G] [--work /tmp/lb-index-bench]

The data are synthetic and clustered, not uniform noise (on which no ANN index is meaningful): 1024 cluster
centres (N(0, 1) per dim), each item = centre + a 32-d latent offset through a fixed random projection (0.1 per
entry) + isotropic noise (0.15 per dim), L2-normalised: separated clusters with a continuous inner structure;
queries are fresh draws from the same mixture (not indexed). They are written as the shards of an
embedded collection (``languagebind embed`` layout) and indexed through ``CollectionSource``, the CLI's path.
Above 1M vectors the exact index is not chosen; under the default ``--max-memory 1G`` an HNSW graph (~3.3 GB at 1M)
does not fit, so the build picks OPQ + IVF-PQ, memory-mapped, with exact re-ranking. Reports build time (and its
steps), memory (the index's estimate and the RSS the opened index adds), size on disk, recall@10 of the held-out
queries against exact search, and single-query / batch latency. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # a program may: OpenMP barriers crawl on an overloaded shared box

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from languagebind.collection.store import MANIFEST, ShardFiles  # noqa: E402
from languagebind.index import BuildSettings, CollectionSource, build_index, open_index, parse_bytes  # noqa: E402
from languagebind.utils.io import write_json_atomic  # noqa: E402

SHARD = 65536


class Mixture:
    """Clustered unit vectors: centre + projected low-dimensional offset + isotropic noise."""

    def __init__(self, dim: int, clusters: int = 1024, latent: int = 32, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.dim = dim
        self.centres = rng.standard_normal((clusters, dim)).astype(np.float32)
        self.projection = (rng.standard_normal((latent, dim)) * 0.1).astype(np.float32)

    def draw(self, n: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        which = rng.integers(len(self.centres), size=n)
        x = self.centres[which] + rng.standard_normal((n, self.projection.shape[0]), dtype=np.float32) @ \
            self.projection + 0.15 * rng.standard_normal((n, self.dim), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x.astype(np.float32)


def write_collection(directory: Path, mixture: Mixture, rows: int) -> None:
    """An embedded collection's shards (reused when a previous run wrote the same ones)."""
    shards = -(-rows // SHARD)
    manifest = {"format": "languagebind-collection/1", "modality": "image", "extensions": [".jpg"],
                "shard_size": SHARD, "batch_size": 1,
                "model": {"synthetic": "clustered mixture, seed 0, latent 0.1, noise 0.15"},
                "dim": mixture.dim, "root": "/synthetic", "files": rows, "shards": shards}
    path = directory / MANIFEST
    if path.is_file() and json.loads(path.read_text()) == manifest and \
            all(ShardFiles(directory, k).is_finished() for k in range(shards)):
        return
    directory.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, manifest)
    for k in range(shards):
        n = min(SHARD, rows - k * SHARD)
        ids = [{"id": f"img/{k * SHARD + i:08d}.jpg", "index": k * SHARD + i} for i in range(n)]
        ShardFiles(directory, k).write(ids, mixture.draw(n, seed=1000 + k), [])


def exact_top(store_vectors, queries: np.ndarray, k: int) -> np.ndarray:
    best_s = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_r = np.empty((len(queries), 0), dtype=np.int64)
    for first, block in store_vectors:
        s = queries @ block.T
        rows = np.broadcast_to(np.arange(first, first + len(block)), s.shape)
        s, rows = np.concatenate([best_s, s], 1), np.concatenate([best_r, rows], 1)
        part = np.argpartition(-s, k - 1, axis=1)[:, :k]
        best_s, best_r = np.take_along_axis(s, part, 1), np.take_along_axis(rows, part, 1)
    order = np.argsort(-best_s, axis=1)
    return np.take_along_axis(best_r, order, 1)


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_048_576)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--max-memory", default="1G")
    parser.add_argument("--index-type", default="auto")
    parser.add_argument("--work", type=Path, default=Path("/tmp/lb-index-bench"))
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "index_recall.json")
    args = parser.parse_args()

    started = time.perf_counter()
    mixture = Mixture(args.dim)
    write_collection(args.work / "collection", mixture, args.rows)
    generated = time.perf_counter() - started
    print(f"collection: {args.rows} x {args.dim} clustered vectors ({generated:.0f} s)", flush=True)

    index_dir = args.work / f"index-{args.index_type}-{args.max_memory}"
    settings = BuildSettings(max_memory=parse_bytes(args.max_memory), index_type=args.index_type)
    t0 = time.perf_counter()
    report = build_index(index_dir, [CollectionSource(args.work / "collection")], settings,
                         log=lambda line: print(f"  [{time.perf_counter() - t0:6.0f} s] {line}", flush=True))
    build_seconds = time.perf_counter() - t0
    modality = report.modalities[0]

    before = rss()
    store = open_index(index_dir)
    opened = rss() - before
    queries = mixture.draw(args.queries, seed=7)
    t1 = time.perf_counter()
    part = store._parts["image"]  # the exact ground truth reads the index's own float32 segments
    truth = exact_top(part.segments.iter_vectors(chunk=65536), queries, 10)
    exact_seconds = time.perf_counter() - t1

    t2 = time.perf_counter()
    hits = store.search("image", queries, 10)
    batch_seconds = time.perf_counter() - t2
    found = [[int(h.id.split(":")[1]) for h in row] for row in hits]
    recall = float(np.mean([len(set(f) & set(t.tolist())) / 10 for f, t in zip(found, truth, strict=True)]))
    latencies = []
    for q in queries[:200]:
        t = time.perf_counter()
        store.search("image", q[None], 10)
        latencies.append(time.perf_counter() - t)
    searched_rss = rss() - before
    disk = sum(p.stat().st_size for p in (index_dir / store.version.name / "image").iterdir())
    result = {
        "cpu": cpu_name(), "cores": os.cpu_count(), "load_average": os.getloadavg(),
        "faiss_threads": __import__("faiss").omp_get_max_threads(),
        "data": f"{args.rows} x {args.dim} clustered synthetic (1024 centres + 0.1 x 32-d latent + 0.15 noise), "
                "L2-normalised",
        "rows": args.rows, "dim": args.dim, "queries": args.queries, "max_memory": args.max_memory,
        "index": modality.factory or modality.index, "search": modality.search,
        "build_seconds": round(build_seconds, 1), "recall_at_10": round(recall, 4),
        "tuning_recall_at_10": modality.recall_at_10,
        "memory_estimate_bytes": modality.memory_bytes, "rss_after_open_bytes": opened,
        "rss_after_searches_bytes": searched_rss, "disk_bytes": disk,
        "latency_ms_p50": round(1000 * float(np.percentile(latencies, 50)), 2),
        "latency_ms_p99": round(1000 * float(np.percentile(latencies, 99)), 2),
        "batch_ms_per_query": round(1000 * batch_seconds / args.queries, 3),
        "exact_ms_per_query_numpy": round(1000 * exact_seconds / args.queries, 2),
    }
    print("\n| index | vectors | build s | recall@10 | memory est. | RSS open/searched | disk | p50 / p99 ms | "
          "batch ms/q | exact ms/q |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {result['index']} {json.dumps(result['search'])} | {args.rows} | {result['build_seconds']} | "
          f"{result['recall_at_10']:.3f} | {modality.memory_bytes / 2**20:.0f} MiB | {opened / 2**20:.0f} / "
          f"{searched_rss / 2**20:.0f} MiB | {disk / 2**30:.2f} GiB | {result['latency_ms_p50']} / "
          f"{result['latency_ms_p99']} | {result['batch_ms_per_query']} | {result['exact_ms_per_query_numpy']} |")
    print(f"CPU: {result['cpu']} ({result['cores']} cores, load average {result['load_average'][0]:.1f})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.out, result)
    print(f"wrote {args.out}")
    return 0 if recall >= 0.95 else 1


if __name__ == "__main__":
    raise SystemExit(main())
