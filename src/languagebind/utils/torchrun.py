"""The process's place in a ``torchrun`` launch, read once from its environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from languagebind.errors import InputError


@dataclass(frozen=True)
class Launch:
    """``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` (``0, 1, 0`` outside torchrun); ``launched``: set by torchrun."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    launched: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def torchrun_env(env: Mapping[str, str] | None = None) -> Launch:
    """Parse torchrun's variables from ``env`` (default ``os.environ``); inconsistent values are an error."""
    env = os.environ if env is None else env
    try:
        rank, world = int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1))
        local = int(env.get("LOCAL_RANK", 0))
    except ValueError as err:
        raise InputError("RANK/WORLD_SIZE/LOCAL_RANK", f"not integers ({err})") from err
    if world < 1 or not 0 <= rank < world or local < 0:
        raise InputError("RANK/WORLD_SIZE", f"rank {rank} is not within a world of {world}")
    return Launch(rank, world, local, "LOCAL_RANK" in env or "WORLD_SIZE" in env)
