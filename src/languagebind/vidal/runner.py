"""One shard through the stages: the unit of work every executor schedules."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from languagebind.vidal.operators import Operator, StageTiming, run_stage
from languagebind.vidal.sample import Sample
from languagebind.vidal.shards import ShardJob, write_shard


def start(job: ShardJob) -> list[Sample]:
    """Samples for the job's inputs; inputs already known to be unusable (bad sidecar, duplicate id) are
    filtered before any stage runs."""
    samples = [Sample(item) for item in job.items]
    for sample in samples:
        if sample.item.problem:
            reason, _, detail = sample.item.problem.partition(": ")
            sample.drop("filtered", reason, detail, "inputs")
    return samples


def apply(op: Operator, job: ShardJob, samples: Sequence[Sample]) -> None:
    """Run one stage over the shard's samples and add its timing to the job."""
    timing = run_stage(op, samples)
    job.timings.setdefault(op.name, StageTiming()).add(timing)


def run_job(stages: Sequence[Operator], job: ShardJob, out: Path) -> dict[str, Any]:
    """Every stage over the shard, then its files; returns the shard's stats."""
    samples = start(job)
    for op in stages:
        apply(op, job, samples)
    return write_shard(out, job, samples)
