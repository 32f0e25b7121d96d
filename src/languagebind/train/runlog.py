"""Run logs: ``metrics.jsonl`` (one JSON object per logged step, always with ``step`` and ``loss``), skipped
samples (``skipped.jsonl``: step, rank, id, reason), optional TensorBoard scalars."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from languagebind.utils.io import write_text_atomic

log = logging.getLogger(__name__)
SKIP_WARNINGS = 20  # skipped samples named in the log (all of them go to skipped.jsonl)


class RunLog:
    """Appends metrics (main process) and skipped samples (every rank, one file each) under ``run_dir``."""

    def __init__(self, run_dir: Path, rank: int, is_main: bool, tensorboard: bool = False) -> None:
        self.run_dir, self.rank, self.is_main = Path(run_dir), rank, is_main
        self.metrics_path = self.run_dir / "metrics.jsonl"
        self.skipped_path = self.run_dir / ("skipped.jsonl" if rank == 0 else f"skipped-rank{rank}.jsonl")
        self.warned = 0
        self.writer = _tensorboard(self.run_dir / "tensorboard") if tensorboard and is_main else None

    def truncate_after(self, step: int) -> None:
        """On resume: drop lines logged after ``step`` (they are about to be logged again)."""
        for path in (self.metrics_path, self.skipped_path):
            if (path == self.metrics_path and not self.is_main) or not path.is_file():
                continue
            kept = [line for line in path.read_text().splitlines() if _step_of(line) <= step]
            write_text_atomic(path, "".join(line + "\n" for line in kept))

    def metrics(self, values: dict[str, Any]) -> None:
        if not self.is_main:
            return
        with self.metrics_path.open("a") as handle:
            handle.write(json.dumps(values) + "\n")
        if self.writer is not None:
            for key, value in values.items():
                if key != "step" and isinstance(value, (int, float)):
                    self.writer.add_scalar(key if "/" in key else f"train/{key}", value, values["step"])
            self.writer.flush()

    def skipped(self, step: int, items: list[tuple[str, str]]) -> None:
        if not items:
            return
        with self.skipped_path.open("a") as handle:
            for item, reason in items:
                handle.write(json.dumps({"step": step, "rank": self.rank, "id": item, "reason": reason}) + "\n")
        for item, reason in items:
            if self.warned < SKIP_WARNINGS:
                log.warning("skipped sample %s: %s", item, reason)
            elif self.warned == SKIP_WARNINGS:
                log.warning("more skipped samples: see %s", self.skipped_path)
            self.warned += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _step_of(line: str) -> float:
    try:
        return float(json.loads(line).get("step", float("inf")))
    except (json.JSONDecodeError, AttributeError):
        return float("inf")  # a half-written last line: dropped


def _tensorboard(directory: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        log.warning("tensorboard is not installed; metrics go to metrics.jsonl only")
        return None
    return SummaryWriter(str(directory))
