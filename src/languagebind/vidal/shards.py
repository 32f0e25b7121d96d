"""The output directory: shard files, per-shard status and stats (the done marker), and the global summaries.

::

    OUT/build.json                  config + input fingerprints (a re-run must match)
    OUT/shards/shard-000000.tar     our layout (only shards with ok samples have a tar)
    OUT/shards/sizes.json           samples per tar (read by WebDataset loaders for the epoch size)
    OUT/official/00000.tar          the official layout, when the pack stage has official: true
    OUT/status/shard-000000.jsonl   one line per input of the shard: ok / filtered + reason / failed + error
    OUT/manifest/shard-000000.jsonl one line per ok sample: id, shard tar, text, meta
    OUT/stats/shard-000000.json     written last, atomically: the shard is done when it exists
    OUT/status.jsonl, OUT/manifest.jsonl, OUT/stats.json   summaries over all shards, rewritten after each run

Tars are written and read by ``languagebind.data.shards`` (``write_tar``, ``tar_samples``: on webdataset,
atomic, byte-reproducible: members in input order, mtime 0, uid/gid 0, no user names, mode 0644); this module
keeps the builder's bookkeeping: done markers, status, manifests, stats and the merge of a retry.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from languagebind.data.shards import tar_samples, write_tar
from languagebind.utils.io import read_jsonl, write_json_atomic, write_jsonl
from languagebind.vidal.operators import StageTiming
from languagebind.vidal.sample import InputItem, Sample


@dataclass
class ShardJob:
    """The inputs of one shard to process now: all of them, or (``retry``) only the failed ones."""

    index: int
    items: list[InputItem]
    retry: bool = False
    timings: dict[str, StageTiming] = field(default_factory=dict)


def tar_path(out: Path, index: int) -> Path:
    return out / "shards" / f"shard-{index:06d}.tar"


def official_tar_path(out: Path, index: int) -> Path:
    return out / "official" / f"{index:05d}.tar"


def status_path(out: Path, index: int) -> Path:
    return out / "status" / f"shard-{index:06d}.jsonl"


def manifest_path(out: Path, index: int) -> Path:
    return out / "manifest" / f"shard-{index:06d}.jsonl"


def stats_path(out: Path, index: int) -> Path:
    return out / "stats" / f"shard-{index:06d}.json"


def is_done(out: Path, index: int) -> bool:
    return stats_path(out, index).is_file()


def read_status(out: Path, index: int) -> list[dict[str, Any]]:
    return read_jsonl(status_path(out, index), missing_ok=True)


def plan(out: Path, items: Sequence[InputItem], shard_size: int, retry_failed: bool) -> tuple[list[ShardJob], int]:
    """Jobs for the shards still to do (and, with ``retry_failed``, done shards' failed inputs); + done count."""
    jobs, done = [], 0
    for index, first in enumerate(range(0, len(items), shard_size)):
        shard_items = list(items[first:first + shard_size])
        if not is_done(out, index):
            jobs.append(ShardJob(index, shard_items))
            continue
        done += 1
        if retry_failed:
            failed = {r["index"] for r in read_status(out, index) if r["status"] == "failed"}
            if failed:
                jobs.append(ShardJob(index, [i for i in shard_items if i.index in failed], retry=True))
    return jobs, done


def write_shard(out: Path, job: ShardJob, samples: list[Sample]) -> dict[str, Any]:
    """Write the shard's tars, status and (last) stats; a retry merges with what the shard already holds."""
    for sample in samples:
        if sample.pending:
            sample.status = "ok"
    records = {s.item.index: s.status_record(job.index) for s in samples}
    manifest = {s.id: s.fields["manifest"] for s in samples if s.status == "ok" and "manifest" in s.fields}
    new_members = {s.id: s.fields.get("members", []) for s in samples if s.status == "ok"}
    new_official = {s.id: s.fields.get("official_members", []) for s in samples if s.status == "ok"}
    timings = {name: StageTiming(t.items, t.seconds) for name, t in job.timings.items()}
    if job.retry:
        records = {r["index"]: r for r in read_status(out, job.index)} | records
        manifest = {r["id"]: r for r in read_jsonl(manifest_path(out, job.index), missing_ok=True)} | manifest
        old_stats = json.loads(stats_path(out, job.index).read_text())
        for name, values in old_stats.get("stages", {}).items():
            timings.setdefault(name, StageTiming()).add(StageTiming(values["items"], values["seconds"]))
    ordered = [records[i] for i in sorted(records)]
    ok_ids = [r["id"] for r in ordered if r["status"] == "ok"]
    sizes = {}
    for path, new in ((tar_path(out, job.index), new_members), (official_tar_path(out, job.index), new_official)):
        old_members = tar_samples(path) if job.retry and path.is_file() else {}
        members = [m for key in ok_ids for m in (new.get(key) or old_members.get(key) or [])]
        if members:
            write_tar(path, members)
            sizes[path.parent.name] = len(ok_ids)
        elif path.exists():
            path.unlink()
    write_jsonl(status_path(out, job.index), ordered, sort_keys=True)
    write_jsonl(manifest_path(out, job.index), [manifest[key] | {"shard": tar_path(out, job.index).name}
                                                  for key in ok_ids if key in manifest], sort_keys=True)
    counts = Counter(r["status"] for r in ordered)
    stats = {"shard": job.index, "inputs": len(ordered), **{s: counts.get(s, 0) for s in ("ok", "filtered", "failed")},
             "reasons": dict(sorted(Counter(r["reason"] for r in ordered if r["status"] != "ok").items())),
             "samples": sizes, "stages": {n: {"items": t.items, "seconds": round(t.seconds, 4)}
                                          for n, t in timings.items()}}
    write_json_atomic(stats_path(out, job.index), stats)
    return stats


def summarize(out: Path, shard_count: int) -> dict[str, Any]:
    """Rewrite ``status.jsonl``, ``manifest.jsonl``, ``shards/sizes.json`` and ``stats.json`` from the shards."""
    totals: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    stages: dict[str, StageTiming] = {}
    sizes: dict[str, dict[str, int]] = {"shards": {}, "official": {}}
    done = [i for i in range(shard_count) if is_done(out, i)]
    for index in done:
        stats = json.loads(stats_path(out, index).read_text())
        totals.update({k: stats[k] for k in ("inputs", "ok", "filtered", "failed")})
        reasons.update(stats["reasons"])
        for name, values in stats["stages"].items():
            stages.setdefault(name, StageTiming()).add(StageTiming(values["items"], values["seconds"]))
        for folder, count in stats["samples"].items():
            path = tar_path(out, index) if folder == "shards" else official_tar_path(out, index)
            sizes[folder][path.name] = count
    write_jsonl(out / "status.jsonl", (r for i in done for r in read_status(out, i)), sort_keys=True)
    write_jsonl(out / "manifest.jsonl", (r for i in done for r in read_jsonl(manifest_path(out, i), missing_ok=True)),
                sort_keys=True)
    for folder, folder_sizes in sizes.items():
        if folder_sizes:
            write_json_atomic(out / folder / "sizes.json", folder_sizes)
    summary = {"shards": shard_count, "done": len(done), **{k: totals.get(k, 0) for k in
                                                            ("inputs", "ok", "filtered", "failed")},
               "reasons": dict(sorted(reasons.items())),
               "stages": {n: {"items": t.items, "seconds": round(t.seconds, 3),
                              "items_per_second": round(t.items / t.seconds, 3) if t.seconds else None}
                          for n, t in stages.items()}}
    write_json_atomic(out / "stats.json", summary)
    return summary
