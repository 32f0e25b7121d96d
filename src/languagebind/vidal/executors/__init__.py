"""Executors run shard jobs: `local` (this process or a process pool, the default) and `ray` (Ray Data)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from languagebind.errors import ConfigError
from languagebind.vidal.operators import Operator
from languagebind.vidal.shards import ShardJob

EXECUTORS = ("local", "ray")


class Executor(Protocol):
    def run(self, stages: Sequence[Operator], jobs: Sequence[ShardJob], out: Path) -> Iterator[dict[str, Any]]:
        """Process the jobs; yield each finished shard's stats (or ``{"shard": i, "error": ...}``)."""


def make_executor(name: str, workers: int) -> Executor:
    if workers < 1:
        raise ConfigError("--workers must be >= 1")
    if name == "local":
        from languagebind.vidal.executors.local import LocalExecutor

        return LocalExecutor(workers)
    if name == "ray":
        from languagebind.vidal.executors.ray_data import RayExecutor

        return RayExecutor(workers)
    raise ConfigError(f"unknown executor {name!r}; known: {', '.join(EXECUTORS)}")
