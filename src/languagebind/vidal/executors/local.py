"""The local executor: shards one after another in this process (``workers=1``) or on a process pool.

Each worker process loads every stage's model once (``setup``) and then takes whole shards. With CUDA and
stages that declare GPUs, worker ``i`` sees only GPU ``i mod n``.
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from languagebind.vidal.operators import Operator
from languagebind.vidal.runner import run_job
from languagebind.vidal.shards import ShardJob

_WORKER_STAGES: Sequence[Operator] = ()


class LocalExecutor:
    def __init__(self, workers: int = 1) -> None:
        self.workers = workers

    def run(self, stages: Sequence[Operator], jobs: Sequence[ShardJob], out: Path) -> Iterator[dict[str, Any]]:
        if self.workers == 1 or len(jobs) <= 1:
            for job in jobs:
                try:
                    yield run_job(stages, job, out)
                except Exception as err:
                    yield {"shard": job.index, "error": f"{type(err).__name__}: {err}\n{traceback.format_exc()}"}
            return
        context = multiprocessing.get_context("spawn")  # no fork after torch/threads were started
        slots = context.Queue()
        for slot in range(self.workers):
            slots.put(slot)
        with ProcessPoolExecutor(min(self.workers, len(jobs)), mp_context=context, initializer=_init_worker,
                                 initargs=(list(stages), slots, _gpu_ids(stages))) as pool:
            futures = {pool.submit(_run, job, out): job.index for job in jobs}
            for future in as_completed(futures):
                try:
                    yield future.result()
                except Exception as err:
                    yield {"shard": futures[future], "error": f"{type(err).__name__}: {err}"}


def _gpu_ids(stages: Sequence[Operator]) -> list[str]:
    if not any(op.gpus > 0 for op in stages):
        return []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [d for d in visible.split(",") if d.strip()]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def _init_worker(stages: list[Operator], slots: Any, gpu_ids: list[str]) -> None:
    global _WORKER_STAGES
    slot = slots.get()
    if gpu_ids:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu_ids[slot % len(gpu_ids)]
    _WORKER_STAGES = stages


def _run(job: ShardJob, out: Path) -> dict[str, Any]:
    try:
        return run_job(_WORKER_STAGES, job, out)
    except Exception as err:
        raise RuntimeError(f"{err}\n{traceback.format_exc()}") from None
