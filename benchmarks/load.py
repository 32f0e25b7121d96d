"""Load test of ``languagebind serve`` on loopback: latency and throughput under concurrent clients.

    python benchmarks/load.py                                  # tiny and full-size towers, text and image queries
    python benchmarks/load.py --towers tiny --clients 1,8 --max-requests 100 --max-seconds 10   # a quick look

For each tower size (``tiny``: the test preset at full input size, 224 px with 14 px patches; ``full``: the released
LanguageBind_Image geometry, ViT-L/14 + the CLIP text tower, random weights) two server child processes start on
127.0.0.1, micro-batching on (up to 16 items per forward pass, 5 ms wait) and off (one at a time), each over a
10,000-item faiss image index of random unit vectors (built with ``languagebind.index``). An asyncio client (httpx)
then runs, at 1, 8 and 32 concurrent clients, text queries (``POST /search`` JSON) and image-file queries
(multipart upload of the sample JPEGs), each run bounded by ``--max-requests`` and ``--max-seconds`` (then the
requests in flight finish); the on and off runs of each setting follow each other, so that both see the same load
from the rest of the machine. Reported per run: requests/s, p50 and p99 latency, errors (any answer but 200), the
server's resident memory after the run and its peak (VmRSS / VmHWM), and the 1-minute load average. Only loopback
addresses are used; every loop is bounded in count and time. Writes a table and ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ["LANGUAGEBIND_SHARED"]) if os.environ.get("LANGUAGEBIND_SHARED") else None
FIXTURES = REPO / "tests" / "fixtures"
RELEASED_DIR = SHARED / "reference" / "released-configs" if SHARED else FIXTURES / "released-configs"
ASSETS_DIR = SHARED / "assets" if SHARED else FIXTURES / "assets"
CAPTIONS = ("a dog running on the beach", "a man playing an acoustic guitar on a small stage at night",
            "traffic noise in a busy street", "a red car", "two children building a sandcastle near the sea",
            "an infrared photo of a person walking", "the depth map of a living room with a sofa and a table",
            "birds singing in the forest early in the morning while the wind blows")
INDEX_ITEMS = 10_000


# -- the server child -------------------------------------------------------------------------------------
def model_for(size: str, precision: str) -> Any:
    from languagebind.api import LanguageBind
    from languagebind.model.config import CheckpointConfig
    from languagebind.model.presets import tiny_config

    if size == "tiny":
        config = tiny_config("image", image_size=224, patch_size=14)
    else:
        config = CheckpointConfig.from_file(RELEASED_DIR / "LanguageBind_Image" / "config.json")
    return LanguageBind.from_config({"image": config}, precision=precision, seed=0)


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from languagebind.precision import tune_cpu_allocator
    from languagebind.serve import ServeConfig, Service, create_app
    from tests.serve.store import build_store, open_store

    tune_cpu_allocator()  # as the languagebind command does
    model = model_for(args.size, args.precision)
    dim = int(model.encode("text", ["x"]).shape[1])
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((INDEX_ITEMS, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    root = Path(args.workdir)
    root.mkdir(parents=True, exist_ok=True)
    paths = [f"item{i}.jpg" for i in range(INDEX_ITEMS)]
    store = open_store(build_store(root / "index", {"image": vectors}, {"image": paths},
                                   {"image": [f"item {i}" for i in range(INDEX_ITEMS)]}))
    config = ServeConfig(port=args.port, rate_limit=0.0, max_batch=args.max_batch, max_wait_ms=5.0,
                         queue_size=256, request_timeout=600.0)
    uvicorn.run(create_app(Service(model, store, config)), host="127.0.0.1", port=args.port, log_level="warning")


# -- the client -----------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def memory_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def start_server(size: str, max_batch: int, precision: str, workdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO),
                                                        os.environ.get("PYTHONPATH", "")]))
    child = subprocess.Popen([sys.executable, __file__, "--serve", "--size", size, "--port", str(port),
                              "--max-batch", str(max_batch), "--precision", precision, "--workdir", str(workdir)],
                             env=env)
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"the server child exited with {child.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return child, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    child.kill()
    raise RuntimeError("the server did not become ready in 600 s")


def stop_server(child: subprocess.Popen) -> None:
    child.terminate()  # SIGTERM: uvicorn's graceful shutdown
    try:
        child.wait(60)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


async def run_load(url: str, kind: str, clients: int, max_requests: int, max_seconds: float,
                   images: list[bytes]) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors: dict[str, int] = {}
    issued = 0
    start = time.perf_counter()
    deadline = start + max_seconds

    async def worker(client: httpx.AsyncClient, number: int) -> None:
        nonlocal issued
        while issued < max_requests and time.perf_counter() < deadline:
            i = issued
            issued += 1
            t0 = time.perf_counter()
            if kind == "text":
                answer = await client.post("/search", json={"text": CAPTIONS[i % len(CAPTIONS)], "k": 10})
            else:
                answer = await client.post("/search", data={"k": "10"},
                                           files={"file": ("q.jpg", images[i % len(images)], "image/jpeg")})
            if answer.status_code == 200:
                latencies.append(time.perf_counter() - t0)
            else:
                errors[str(answer.status_code)] = errors.get(str(answer.status_code), 0) + 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits, trust_env=False) as client:
        await asyncio.gather(*(worker(client, n) for n in range(clients)))
    elapsed = time.perf_counter() - start
    lat = np.array(latencies) * 1000 if latencies else np.array([np.nan])
    return {"requests": len(latencies), "errors": errors, "seconds": round(elapsed, 2),
            "rps": round(len(latencies) / elapsed, 2), "p50_ms": round(float(np.percentile(lat, 50)), 1),
            "p99_ms": round(float(np.percentile(lat, 99)), 1)}


def bench(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Per tower size both servers (batching on and off) run at once, and each (query kind, clients) run goes to
    one right after the other, so that both see the same load from the rest of the machine."""
    import torch

    images = [p.read_bytes() for p in sorted((ASSETS_DIR / "image").glob("*.jpg"))]
    results = []
    for size in args.towers.split(","):
        with tempfile.TemporaryDirectory(prefix="languagebind-load-") as workdir:
            servers = {}
            try:
                for batching, max_batch in (("on", 16), ("off", 1)):
                    servers[batching] = start_server(size, max_batch, args.precision, Path(workdir) / batching)
                for kind in args.kinds.split(","):
                    for _, url in servers.values():
                        asyncio.run(run_load(url, kind, 2, 4, 120, images))  # warm-up (first passes, caches)
                    for clients in (int(c) for c in args.clients.split(",")):
                        for batching, (child, url) in servers.items():
                            row = asyncio.run(run_load(url, kind, clients, args.max_requests, args.max_seconds,
                                                       images))
                            memory = memory_kib(child.pid)
                            row.update(tower=size, batching=batching, kind=kind, clients=clients,
                                       rss_mib=round(memory["VmRSS"] / 1024),
                                       peak_rss_mib=round(memory["VmHWM"] / 1024),
                                       load_average=round(os.getloadavg()[0], 2))
                            results.append(row)
                            print(format_row(row), flush=True)
            finally:
                for child, _ in servers.values():
                    stop_server(child)
    meta = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "precision": args.precision,
            "index_items": INDEX_ITEMS, "max_requests": args.max_requests, "max_seconds": args.max_seconds}
    if args.out:
        args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    return results


HEADER = (f"{'tower':<5} {'query':<5} {'batching':<8} {'clients':>7} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'n':>5} {'errors':>6} {'RSS MiB':>8} {'peak MiB':>8} {'load':>5}")


def format_row(row: dict[str, Any]) -> str:
    errors = sum(row["errors"].values())
    return (f"{row['tower']:<5} {row['kind']:<5} {row['batching']:<8} {row['clients']:>7} {row['rps']:>7.2f} "
            f"{row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} {row['requests']:>5} {errors:>6} {row['rss_mib']:>8} "
            f"{row['peak_rss_mib']:>8} {row['load_average']:>5.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--towers", default="tiny,full", help="tiny, full or both")
    parser.add_argument("--kinds", default="text,image", help="query kinds: text, image")
    parser.add_argument("--clients", default="1,8,32", help="concurrent clients per run")
    parser.add_argument("--max-requests", type=int, default=300, help="requests per run at most")
    parser.add_argument("--max-seconds", type=float, default=30.0, help="seconds per run at most (then it drains)")
    parser.add_argument("--precision", default="fp32", help="model precision (fp32, bf16, auto)")
    parser.add_argument("--out", type=Path, default=None, help="JSON results")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--size", default="tiny", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--max-batch", type=int, default=16, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return
    print(HEADER, flush=True)
    bench(args)


if __name__ == "__main__":
    main()
