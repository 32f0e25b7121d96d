"""Micro-batching: concurrent requests for one tower are gathered into one forward pass.

Each modality has a bounded queue and one collector task: it takes the first waiting item, then whatever else
arrives within ``max_wait`` seconds, up to ``max_batch`` items, and runs them as one batch on the model's single
worker thread (forward passes never overlap: they share the same cores). A full queue answers ``Overloaded``
(the service turns it into 503) instead of growing without bound; ``stop`` finishes what is queued.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from languagebind.serve.metrics import Metrics


class Overloaded(Exception):
    """The queue of a modality is full (or the batcher is stopping)."""


@dataclass
class _Job:
    payload: Any
    future: asyncio.Future = field(repr=False)


class MicroBatcher:
    """``await submit(modality, item)`` -> that item's embedding, computed in a batch with its neighbours."""

    def __init__(self, run_batch: Callable[[str, Sequence[Any]], np.ndarray], max_batch: int, max_wait: float,
                 queue_size: int, metrics: Metrics | None = None) -> None:
        self.run_batch = run_batch
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.queue_size = queue_size
        self.metrics = metrics
        self._queues: dict[str, asyncio.Queue[_Job]] = {}
        self._tasks: dict[str, asyncio.Task] = {}
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="languagebind-model")
        self._accepting = True
        self._busy: dict[str, int] = {}

    @property
    def accepting(self) -> bool:
        return self._accepting

    def computing(self, modality: str) -> int:
        """Items of ``modality`` inside the forward pass now."""
        return self._busy.get(modality, 0)

    def depth(self, modality: str) -> int:
        """Items waiting or being computed for ``modality``."""
        queue = self._queues.get(modality)
        return (queue.qsize() if queue else 0) + self._busy.get(modality, 0)

    async def submit(self, modality: str, payload: Any) -> np.ndarray:
        if not self._accepting:
            raise Overloaded("the service is shutting down")
        queue = self._queue(modality)
        future = asyncio.get_running_loop().create_future()
        try:
            queue.put_nowait(_Job(payload, future))
        except asyncio.QueueFull:
            raise Overloaded(f"the {modality} queue is full ({self.queue_size} waiting); retry shortly") from None
        self._gauge(modality)
        return await future

    def _queue(self, modality: str) -> asyncio.Queue[_Job]:
        if modality not in self._queues:
            self._queues[modality] = asyncio.Queue(self.queue_size)
            self._busy[modality] = 0
            self._tasks[modality] = asyncio.get_running_loop().create_task(self._collect(modality))
        return self._queues[modality]

    async def _collect(self, modality: str) -> None:
        queue = self._queues[modality]
        loop = asyncio.get_running_loop()
        while True:
            jobs = [await queue.get()]
            deadline = loop.time() + self.max_wait
            while len(jobs) < self.max_batch:
                remaining = deadline - loop.time()
                try:
                    jobs.append(queue.get_nowait() if remaining <= 0 else
                                await asyncio.wait_for(queue.get(), remaining))
                except (asyncio.QueueEmpty, asyncio.TimeoutError):
                    break
            live = [job for job in jobs if not job.future.done()]  # a timed-out request has given up
            if not live:
                continue
            self._busy[modality] = len(live)
            self._gauge(modality)
            try:
                out = await loop.run_in_executor(self._executor, self.run_batch, modality,
                                                 [job.payload for job in live])
            except Exception as err:  # the whole batch failed: every waiting request learns why
                for job in live:
                    if not job.future.done():
                        job.future.set_exception(err)
            else:
                if self.metrics:
                    self.metrics.batch_size.labels(modality).observe(len(live))
                for job, row in zip(live, out, strict=True):
                    if not job.future.done():
                        job.future.set_result(row)
            finally:
                self._busy[modality] = 0
                self._gauge(modality)

    def _gauge(self, modality: str) -> None:
        if self.metrics:
            self.metrics.queue_depth.labels(modality).set(self.depth(modality))

    async def stop(self, timeout: float = 30.0) -> None:
        """Refuse new items, let queued ones finish (up to ``timeout`` seconds), then end the workers."""
        self._accepting = False
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while any(self.depth(m) for m in self._queues) and loop.time() < end:
            await asyncio.sleep(0.01)
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for queue in self._queues.values():  # anything still queued after the timeout
            while not queue.empty():
                job = queue.get_nowait()
                if not job.future.done():
                    job.future.set_exception(Overloaded("the service is shutting down"))
        self._executor.shutdown(wait=True)
