"""The Ray Data executor (``pip install languagebind[ray]``): the same stages, scheduled by Ray.

One dataset row is one shard job (its samples travel pickled in the row), so a shard's samples meet each stage
in the same batches as under the local executor and the shards come out byte-identical. CPU stages run as Ray
tasks; stages with a model run as actor pools (``setup`` once per actor) that request the stage's declared CPUs
and GPUs; the last task writes the shard's files (the output directory must be on storage every node sees).

Without ``RAY_ADDRESS`` a local Ray is started with ``max(workers, what the stages declare)`` logical CPUs, so
each actor pool can hold at least one actor even on a small machine.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from languagebind.errors import ConfigError
from languagebind.vidal.operators import Operator
from languagebind.vidal.runner import apply, start
from languagebind.vidal.shards import ShardJob, write_shard


class RayExecutor:
    def __init__(self, workers: int = 2) -> None:
        self.workers = workers

    def run(self, stages: Sequence[Operator], jobs: Sequence[ShardJob], out: Path) -> Iterator[dict[str, Any]]:
        if not jobs:
            return
        try:
            import ray
            import ray.data
        except ImportError as err:
            raise ConfigError("the ray executor needs Ray Data: pip install 'languagebind[ray]'") from err
        for name in ("ray", "ray.data"):
            logging.getLogger(name).setLevel(logging.ERROR)
        started = not ray.is_initialized()
        if started:
            _init_ray(ray, stages, self.workers)
        try:
            context = ray.data.DataContext.get_current()
            context.enable_progress_bars = False
            context.execution_options.preserve_order = False
            rows = [{"shard": job.index, "payload": pickle.dumps((job, start(job)))} for job in jobs]
            dataset = ray.data.from_items(rows, override_num_blocks=len(rows))
            for op in stages:
                if op.uses_model:
                    pool = ray.data.ActorPoolStrategy(min_size=1, max_size=self.workers)
                    dataset = dataset.map_batches(_StageActor, fn_constructor_args=(op,), batch_size=1, compute=pool,
                                                  num_cpus=op.cpus, num_gpus=op.gpus)
                else:
                    dataset = dataset.map_batches(_stage_task, fn_args=(op,), batch_size=1, num_cpus=op.cpus)
            dataset = dataset.map_batches(_write_task, fn_args=(str(out),), batch_size=1, num_cpus=1)
            for row in dataset.iter_rows():
                yield pickle.loads(row["stats"])
        finally:
            if started:
                ray.shutdown()


def _init_ray(ray: Any, stages: Sequence[Operator], workers: int) -> None:
    if os.environ.get("RAY_ADDRESS"):
        ray.init(log_to_driver=False)
        return
    needed = sum(op.cpus for op in stages if op.uses_model) + max((op.cpus for op in stages), default=1) + 1
    ray.init(num_cpus=int(max(workers, needed)), include_dashboard=False, log_to_driver=False,
             configure_logging=False)


def _apply_to_rows(op: Operator, batch: dict[str, Any]) -> dict[str, Any]:
    payloads = []
    for payload in batch["payload"]:
        job, samples = pickle.loads(payload)
        apply(op, job, samples)
        payloads.append(pickle.dumps((job, samples)))
    return {"shard": batch["shard"], "payload": payloads}


def _stage_task(batch: dict[str, Any], op: Operator) -> dict[str, Any]:
    return _apply_to_rows(op, batch)


class _StageActor:
    """One worker of a model stage: loads the model once, then takes shard after shard."""

    def __init__(self, op: Operator) -> None:
        self.op = op
        op.ensure_setup()

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        return _apply_to_rows(self.op, batch)


def _write_task(batch: dict[str, Any], out: str) -> dict[str, Any]:
    stats = []
    for payload in batch["payload"]:
        job, samples = pickle.loads(payload)
        stats.append(pickle.dumps(write_shard(Path(out), job, samples)))
    return {"shard": batch["shard"], "stats": stats}
