"""`build`: inputs -> shard jobs -> executor -> shards, status, stats; resumable and re-runnable.

A shard is done when its stats file exists; a re-run skips done shards, and ``retry_failed`` re-runs only the
failed inputs of done shards (merging their outputs into the shard). The output directory remembers the config
and the input list it was built from (``build.json``) and refuses to mix in a different one.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from languagebind.errors import ConfigError
from languagebind.utils.io import write_json_atomic
from languagebind.utils.progress import progress as progress_bar
from languagebind.vidal import shards
from languagebind.vidal.executors import make_executor
from languagebind.vidal.inputs import InputList, read_inputs
from languagebind.vidal.plan import BuildConfig
from languagebind.vidal.summary import stage_table, throughput_table


@dataclass
class BuildResult:
    """What a run did: shards processed now, shard errors, and the summary over the whole output."""

    processed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def build(config: BuildConfig, input_path: str | Path, out: str | Path, *, executor: str = "local",
          workers: int = 1, retry_failed: bool = False, dry_run: bool = False, progress: bool | None = None,
          log: Any = None) -> BuildResult:
    """Build (or resume) the dataset of ``input_path`` into ``out``; messages go to ``log`` (default stderr)."""
    log = log or sys.stderr
    out = Path(out)
    inputs = read_inputs(input_path)
    if not inputs.items:
        raise ConfigError(f"no inputs found in {input_path}")
    shard_count = -(-len(inputs.items) // config.shard_size)
    check_or_record(out, config, inputs, write=not dry_run)
    jobs, done = shards.plan(out, inputs.items, config.shard_size, retry_failed)
    retries = sum(len(j.items) for j in jobs if j.retry)
    print(f"{len(inputs.items)} inputs in {shard_count} shards of {config.shard_size}: {done} done, "
          f"{sum(not j.retry for j in jobs)} to build" + (f", {retries} failed inputs to retry" if retry_failed else "")
          + (f"; ignored files: {inputs.ignored}" if inputs.ignored else ""), file=log)
    if dry_run:
        print(stage_table(config.stages), file=log)
        for op in config.stages:
            model = getattr(op, "model", None)
            if model and not Path(model).is_dir():
                raise ConfigError(f"stage {op.name}: model directory {model!r} does not exist")
        return BuildResult()
    remove_stale_temp_files(out)
    result = BuildResult()
    start = time.perf_counter()
    runner = make_executor(executor, workers)
    with progress_bar(total=len(jobs), unit="shard", desc="build", enabled=progress, leave=True) as bar:
        for stats in runner.run(config.stages, jobs, out):
            if "error" in stats:
                result.errors.append(stats)
                print(f"shard {stats['shard']}: not written: {stats['error']}", file=log)
            else:
                result.processed += 1
                bar.set_postfix(ok=stats["ok"], filtered=stats["filtered"], failed=stats["failed"], refresh=False)
            bar.update(1)
    result.seconds = time.perf_counter() - start
    result.summary = shards.summarize(out, shard_count)
    _report(result, out, log)
    return result


def check_or_record(out: Path, config: BuildConfig, inputs: InputList, write: bool) -> None:
    """Refuse to continue a build made from another config or input list; record them on the first run."""
    record = {"config": config.fingerprint(), "inputs": inputs.fingerprint(), "input_count": len(inputs.items),
              "shard_size": config.shard_size, "stages": config.describe()["stages"]}
    path = out / "build.json"
    if path.is_file():
        previous = json.loads(path.read_text())
        for key, what in (("inputs", "input list"), ("config", "config (stages, options or shard size)")):
            if previous.get(key) != record[key]:
                raise ConfigError(f"{out} was built from a different {what}; use a new --out "
                                  f"(or delete {out} to start over)")
    elif write:
        write_json_atomic(path, record)


def remove_stale_temp_files(out: Path) -> None:
    """Temporary files of writes a killed run left half-done (atomic writes never expose them)."""
    for stale in out.glob("*/.*.tmp"):
        stale.unlink(missing_ok=True)


def _report(result: BuildResult, out: Path, log: Any) -> None:
    summary = result.summary
    print(f"{result.processed} shards written in {result.seconds:.1f} s; {summary['done']}/{summary['shards']} "
          f"done: {summary['ok']} ok, {summary['filtered']} filtered, {summary['failed']} failed "
          f"(of {summary['inputs']} inputs)", file=log)
    if summary["reasons"]:
        print("reasons: " + ", ".join(f"{k} {v}" for k, v in summary["reasons"].items()), file=log)
    if summary["stages"]:
        print(throughput_table(summary["stages"]), file=log)
    if summary["failed"]:
        print(f"{summary['failed']} inputs failed (see {out / 'status.jsonl'}); re-run with --retry-failed "
              "to retry only them", file=log)

