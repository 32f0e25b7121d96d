"""Micro-batching: concurrent requests share forward passes; full queues answer 503; slow requests 504; stopping
finishes queued work."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import numpy as np
import pytest

from languagebind.serve import ServeConfig, Service, create_app
from languagebind.serve.batcher import MicroBatcher, Overloaded
from languagebind.serve.metrics import Metrics
from tests.serve.conftest import gate_model
from tests.serve.store import open_store


async def until_computing(batcher: MicroBatcher, modality: str, items: int = 1) -> None:
    """Wait (at most 10 s) until ``items`` of ``modality`` are inside a forward pass."""
    for _ in range(1000):
        if batcher.computing(modality) == items:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the forward pass did not start")


class Recorder:
    """A stand-in forward pass: row i of the answer is ``payload_i * [1, 1]``; records batch sizes."""

    def __init__(self, delay: float = 0.0, gate: threading.Event | None = None) -> None:
        self.sizes: list[int] = []
        self.delay = delay
        self.gate = gate

    def __call__(self, modality: str, payloads: list[float]) -> np.ndarray:
        if self.gate is not None:
            self.gate.wait(10)
        time.sleep(self.delay)
        self.sizes.append(len(payloads))
        return np.array([[p, p] for p in payloads], dtype=np.float32)


def test_concurrent_requests_share_batches() -> None:
    async def main() -> tuple[list, list[int], str]:
        recorder = Recorder(delay=0.02)
        metrics = Metrics()
        batcher = MicroBatcher(recorder, max_batch=4, max_wait=0.05, queue_size=64, metrics=metrics)
        out = await asyncio.gather(*(batcher.submit("image", float(i)) for i in range(10)))
        await batcher.stop()
        return out, recorder.sizes, metrics.render().decode()

    out, sizes, text = asyncio.run(main())
    assert [row[0] for row in out] == [float(i) for i in range(10)]  # each caller gets its own row
    assert sum(sizes) == 10 and max(sizes) == 4 and len(sizes) <= 4, sizes
    assert 'languagebind_batch_size_count{modality="image"}' in text


def test_batching_off_runs_one_at_a_time() -> None:
    async def main() -> list[int]:
        recorder = Recorder()
        batcher = MicroBatcher(recorder, max_batch=1, max_wait=0.05, queue_size=64)
        await asyncio.gather(*(batcher.submit("text", float(i)) for i in range(5)))
        await batcher.stop()
        return recorder.sizes

    assert asyncio.run(main()) == [1, 1, 1, 1, 1]


def test_full_queue_refuses_and_stop_finishes_queued_work() -> None:
    async def main() -> None:
        gate = threading.Event()
        batcher = MicroBatcher(Recorder(gate=gate), max_batch=1, max_wait=0.0, queue_size=2)
        first = asyncio.ensure_future(batcher.submit("audio", 1.0))
        await until_computing(batcher, "audio")  # taken by the worker, blocked in the forward pass
        queued = [asyncio.ensure_future(batcher.submit("audio", v)) for v in (2.0, 3.0)]
        await asyncio.sleep(0.01)
        with pytest.raises(Overloaded, match="queue is full"):
            await batcher.submit("audio", 4.0)
        assert batcher.depth("audio") == 3
        gate.set()
        await batcher.stop()
        assert [f.result()[0] for f in (first, *queued)] == [1.0, 2.0, 3.0]
        with pytest.raises(Overloaded, match="shutting down"):
            await batcher.submit("audio", 5.0)

    asyncio.run(main())


def test_timed_out_requests_are_skipped() -> None:
    async def main() -> list[int]:
        gate = threading.Event()
        recorder = Recorder(gate=gate)
        batcher = MicroBatcher(recorder, max_batch=8, max_wait=0.0, queue_size=8)
        blocker = asyncio.ensure_future(batcher.submit("image", 0.0))
        await until_computing(batcher, "image")
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(batcher.submit("image", 1.0), 0.05)
        alive = asyncio.ensure_future(batcher.submit("image", 2.0))
        gate.set()
        assert (await alive)[0] == 2.0 and (await blocker)[0] == 0.0
        await batcher.stop()
        return recorder.sizes

    assert asyncio.run(main()) == [1, 1]  # the abandoned request was not computed


def test_service_answers_503_when_full_and_504_when_slow(tiny_towers, collection) -> None:
    async def main() -> None:
        config = ServeConfig(rate_limit=0.0, max_batch=1, queue_size=1, request_timeout=0.5,
                             media_roots=(str(collection.root),))
        service = Service(tiny_towers, open_store(collection.index), config)
        gate = gate_model(service)
        await service.start()
        transport = httpx.ASGITransport(app=create_app(service))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            body = {"text": "a red square", "target_modalities": ["image"], "k": 1}
            answers = await asyncio.gather(*(client.post("/search", json=body) for _ in range(4)))
            codes = sorted(a.status_code for a in answers)
            assert 503 in codes and 504 in codes, codes
            for answer in answers:
                assert answer.json()["error"] and "Traceback" not in answer.text
            gate.set()
            ok = await client.post("/search", json=body)
            assert ok.status_code == 200, ok.text
            metrics = (await client.get("/metrics")).text
            assert 'languagebind_rejected_total{reason="queue_full"}' in metrics
            assert 'languagebind_rejected_total{reason="timeout"}' in metrics
        await service.stop()
        assert not service.ready

    asyncio.run(main())
