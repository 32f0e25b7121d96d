"""Embed a whole directory tree into resumable shards, split across processes and machines.

```python
summary = embed_collection(model, "photos/", "photos.emb/", CollectionSettings("image", (".jpg", ".png")))
reader = CollectionReader("photos.emb/")      # languagebind.collection.store
ids, embeddings = reader.ids(), reader.embeddings()
```
The files are found by a sorted walk, streamed (memory is bounded by one shard, whatever the collection size)
and cut into shards of ``shard_size`` consecutive files. Under ``torchrun`` (``RANK`` / ``WORLD_SIZE``) rank
``r`` of ``w`` embeds the shards ``k`` with ``k % w == r``, so processes on many machines can share one output
directory. A finished shard is skipped on the next run (after checking it holds the same files); bad files are
reported, recorded in the shard's ``.failures.jsonl`` and skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from languagebind.collection.store import FAILURES, MANIFEST, ShardFiles
from languagebind.errors import InputError
from languagebind.utils.io import write_json_atomic, write_jsonl
from languagebind.utils.progress import progress as progress_bar
from languagebind.utils.torchrun import torchrun_env

if TYPE_CHECKING:
    from languagebind.api import LanguageBind

FORMAT = "languagebind-collection/1"
FailureCallback = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class CollectionSettings:
    """What a collection's output depends on besides the model."""

    modality: str
    extensions: tuple[str, ...]
    shard_size: int = 1024
    batch_size: int = 16

    def __post_init__(self) -> None:
        if self.shard_size < 1 or self.batch_size < 1:
            raise InputError("shard size / batch size", "must be positive")


@dataclass(frozen=True)
class CollectionSummary:
    """What one process did."""

    files: int
    shards: int
    rank: int
    world: int
    embedded_shards: int
    finished_before: int
    rows: int
    failures: int
    complete: bool


def iter_files(root: Path, extensions: Sequence[str]) -> Iterator[Path]:
    """Files under ``root`` with one of ``extensions`` (case-insensitive), in a stable sorted order.

    Each directory is listed and sorted on its own, so memory is bounded by the largest directory. Hidden
    entries (``.name``) and symlinked directories are skipped.
    """
    suffixes = tuple(e.lower() for e in extensions)
    entries = sorted(os.scandir(root), key=lambda e: e.name)
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from iter_files(Path(entry.path), suffixes)
        elif entry.is_file() and entry.name.lower().endswith(suffixes):
            yield Path(entry.path)


def iter_shards(files: Iterable[Path], shard_size: int) -> Iterator[tuple[int, list[Path]]]:
    """``(k, files of shard k)`` for consecutive groups of ``shard_size`` files."""
    batch: list[Path] = []
    index = 0
    for path in files:
        batch.append(path)
        if len(batch) == shard_size:
            yield index, batch
            batch, index = [], index + 1
    if batch:
        yield index, batch


def embed_collection(model: LanguageBind, root: str | Path, out: str | Path, settings: CollectionSettings,
                     rank: int | None = None, world: int | None = None, progress: bool | None = None,
                     on_failure: FailureCallback | None = None) -> CollectionSummary:
    """Embed this process's share of the files under ``root`` into shards in ``out``; see the module docstring.

    ``rank`` / ``world``: default ``torchrun``'s ``RANK`` / ``WORLD_SIZE`` (``0`` / ``1`` outside it)."""
    root, out = Path(root), Path(out)
    if not root.is_dir():
        raise InputError(root, "not a directory")
    if rank is None or world is None:
        launch = torchrun_env()
        rank, world = launch.rank, launch.world_size
    total = sum(1 for _ in iter_files(root, settings.extensions))
    if total == 0:
        raise InputError(root, f"no {settings.modality} files ({', '.join(settings.extensions)}) under it")
    num_shards = -(-total // settings.shard_size)
    _check_or_write_manifest(out, _manifest(model, root, settings, total, num_shards))
    size = settings.shard_size
    mine = range(rank, num_shards, world)
    finished_at_start = {k for k in mine if ShardFiles(out, k).is_finished()}
    my_files = sum(min(size, total - k * size) for k in mine)
    done_files = sum(min(size, total - k * size) for k in finished_at_start)
    embedded = finished_before = rows = failures = 0
    with _progress_bar(my_files, done_files, progress, f"embed {settings.modality} [rank {rank}/{world}]") as bar:
        for index, paths in iter_shards(iter_files(root, settings.extensions), size):
            if index % world != rank:
                continue
            shard = ShardFiles(out, index)
            ids = [p.relative_to(root).as_posix() for p in paths]
            if index in finished_at_start and _holds(shard, ids):
                finished_before += 1
                continue
            done_rows, bad = _embed_shard(model, shard, paths, ids, index * size, settings)
            for row in bad:
                if on_failure is not None:
                    on_failure(row)
            embedded, rows, failures = embedded + 1, rows + done_rows, failures + len(bad)
            if index not in finished_at_start:  # a stale finished shard was counted as done already
                bar.update(len(paths))
    complete = _merge_failures_if_complete(out, num_shards)
    return CollectionSummary(total, num_shards, rank, world, embedded, finished_before, rows, failures, complete)


def _embed_shard(model: LanguageBind, shard: ShardFiles, paths: list[Path], ids: list[str], start: int,
                 settings: CollectionSettings) -> tuple[int, list[dict[str, Any]]]:
    result = model.encode_files(settings.modality, paths, batch_size=settings.batch_size, progress=False)
    good = set(result.indices)
    bad_positions = [i for i in range(len(paths)) if i not in good]
    rows = [{"id": ids[i], "index": start + i} for i in result.indices]
    bad = [{"id": ids[i], "index": start + i, "reason": reason}
           for i, (_, reason) in zip(bad_positions, result.failures, strict=True)]
    shard.write(rows, result.embeddings.numpy(), bad)
    return len(rows), bad


def _holds(shard: ShardFiles, ids: list[str]) -> bool:
    """Does a finished shard hold exactly these files (the collection may have changed since)?"""
    recorded = sorted((row["index"], row["id"]) for row in shard.read_ids() + shard.read_failures())
    return [name for _, name in recorded] == ids


def _manifest(model: LanguageBind, root: Path, settings: CollectionSettings, files: int, shards: int) -> dict:
    config = json.dumps(model.config(settings.modality).to_dict(), sort_keys=True, default=str)
    return {"format": FORMAT, **asdict(settings), "extensions": list(settings.extensions),
            "model": {"config": hashlib.sha256(config.encode()).hexdigest()[:16],
                      "fingerprint": model.checkpoint_fingerprint(settings.modality),
                      "precision": model.precision},
            "dim": model.config(settings.modality).vision.projection_dim,
            "root": str(root.resolve()), "files": files, "shards": shards}


# Settings that must not change between the runs (and ranks) that fill one output directory.
_FIXED = ("format", "modality", "extensions", "shard_size", "model")


def _check_or_write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    path = out / MANIFEST
    if path.is_file():
        old = json.loads(path.read_text())
        changed = [key for key in _FIXED if old.get(key) != manifest[key]]
        if changed:
            raise InputError(out, f"was embedded with other settings ({', '.join(changed)}: {old.get(changed[0])} "
                                  f"!= {manifest[changed[0]]}); use the same model, precision and options, or a "
                                  "new output directory")
        if all(old.get(k) == manifest[k] for k in ("files", "shards")):
            return
    write_json_atomic(path, manifest)


def _merge_failures_if_complete(out: Path, num_shards: int) -> bool:
    """Once every shard is finished (by any rank), write ``failures.jsonl`` (all skipped files, in order)."""
    shards = [ShardFiles(out, k) for k in range(num_shards)]
    if not all(s.is_finished() for s in shards):
        return False
    write_jsonl(out / FAILURES, [row for s in shards for row in s.read_failures()])
    return True


def _progress_bar(total: int, initial: int, enabled: bool | None, desc: str) -> Any:
    """Files of this rank; the ETA counts only this run's rate (``initial`` = files finished before)."""
    return progress_bar(total=total, initial=initial, desc=desc, enabled=enabled, unit="file", leave=True,
                        smoothing=0.1, dynamic_ncols=True)
