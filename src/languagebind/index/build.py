"""Build an index directory from sources, or add new items to one: resumable, and atomic as a whole.

```python
report = build_index("photos.index", [CollectionSource("photos.emb")], BuildSettings(max_memory=parse_bytes("8G")))
report = add_to_index("photos.index", [CollectionSource("more.emb")])
```
Everything is written into ``INDEX/build/`` (``languagebind.index.layout``) next to a ``plan.json`` naming the
sources and settings. Steps, each finished by an atomic write that the next run finds and skips:
segments (``seg-*.parquet`` + ``seg-*.npy``), then for an approximate index the trained empty index
(``trained.faiss``), the vectors added so far (``partial.faiss``, every ``checkpoint_seconds``), the tuned
``index.faiss``, and the modality's ``done.json``. A run with the same plan resumes where the last one stopped; a
different plan starts the build area again. Only a finished build becomes the current version, so a build killed
at any point (``kill -9`` included) leaves the previous index untouched and serving.

``add_to_index`` keeps each modality's index type and tuning and adds the new rows (after the existing ones: ids
of indexed items never change); items of a collection that is already indexed (same collection root and path) are
skipped, so ``add`` after embedding more files of a grown folder adds just the new files. A modality new to the
index is built as by ``build_index``. Run ``build`` again to re-choose the index type after large additions.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from languagebind.errors import InputError
from languagebind.index import choose as chooser
from languagebind.index.base import make_id
from languagebind.index.faiss_store import ModalityIndex
from languagebind.index.layout import (
    BUILD,
    FORMAT,
    MANIFEST,
    current_version,
    link_or_copy,
    publish,
    read_manifest,
    writer_lock,
)
from languagebind.index.segments import Segments, segment_done, segment_name, write_segment
from languagebind.index.sources import Source
from languagebind.utils.io import atomic_write, write_json_atomic

Log = Callable[[str], None]


@dataclass(frozen=True)
class BuildSettings:
    """How indexes are chosen and built (``languagebind.index.choose``)."""

    max_memory: int = 8 * 2**30
    exact_limit: int = chooser.EXACT_LIMIT
    index_type: str = "auto"
    target_recall: float = 0.95
    segment_rows: int = 262144
    checkpoint_seconds: float = 60.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.index_type not in chooser.INDEX_TYPES:
            raise InputError(f"index type {self.index_type}", f"expected one of {', '.join(chooser.INDEX_TYPES)}")
        if not 0 < self.target_recall <= 1 or self.segment_rows < 1 or self.max_memory < 1:
            raise InputError("build settings", "target recall in (0, 1], positive segment rows and memory")

    def plan(self) -> dict[str, Any]:
        """What the result depends on (checkpoint_seconds does not)."""
        return {k: v for k, v in asdict(self).items() if k != "checkpoint_seconds"}


@dataclass
class ModalityReport:
    modality: str
    count: int
    added: int
    index: str
    factory: str
    memory_bytes: int
    disk_bytes: int
    build_seconds: float
    recall_at_10: float | None
    search: dict[str, int] = field(default_factory=dict)


@dataclass
class BuildReport:
    path: str
    version: str
    seconds: float
    resumed: bool
    modalities: list[ModalityReport]

    def table(self) -> str:
        lines = ["| modality | items | added | index | memory | on disk | build s | recall@10 | search |",
                 "|---|---:|---:|---|---:|---:|---:|---:|---|"]
        for m in self.modalities:
            recall = "exact" if m.recall_at_10 is None else f"{m.recall_at_10:.3f}"
            lines.append(f"| {m.modality} | {m.count} | {m.added} | {m.factory or m.index} | "
                         f"{m.memory_bytes / 2**20:.1f} MiB | {m.disk_bytes / 2**20:.1f} MiB | {m.build_seconds:.1f} | "
                         f"{recall} | {json.dumps(m.search) if m.search else '-'} |")
        return "\n".join(lines)


def build_index(out: str | Path, sources: Sequence[Source], settings: BuildSettings = BuildSettings(),
                log: Log | None = None) -> BuildReport:
    """A new version of ``out`` holding exactly ``sources`` (one index per modality); see the module docstring."""
    return _run(Path(out), sources, settings, None, log)


def add_to_index(out: str | Path, sources: Sequence[Source], settings: BuildSettings = BuildSettings(),
                 log: Log | None = None) -> BuildReport:
    """A new version of ``out``: the current one plus the new items of ``sources``."""
    out = Path(out)
    base = current_version(out) if out.is_dir() else None
    if base is None:
        raise InputError(out, "no index to add to (build it first with `languagebind index build`)")
    return _run(out, sources, settings, base, log)


def _run(root: Path, sources: Sequence[Source], settings: BuildSettings, base: Path | None,
         log: Log | None) -> BuildReport:
    if not sources:
        raise InputError(root, "nothing to index (no sources)")
    say = log or (lambda _: None)
    started = time.perf_counter()
    base_manifest = read_manifest(base) if base is not None else None
    dims = {s.dim for s in sources} | ({int(base_manifest["dim"])} if base_manifest else set())
    if len(dims) != 1:
        raise InputError(root, f"sources have different embedding sizes {sorted(dims)}: one index holds one space")
    dim = dims.pop()
    all_sources = (base_manifest["sources"] if base_manifest else []) + [s.signature() for s in sources]
    for signature, source in zip(all_sources[len(all_sources) - len(sources):], sources, strict=True):
        signature["root"] = source.root
    plan = {"format": FORMAT, "base": base.name if base else None, "sources": all_sources,
            "settings": settings.plan(), "dim": dim}
    with writer_lock(root):
        build = root / BUILD
        resumed = _prepare(build, plan)
        say(("resuming" if resumed else "starting") + f" the build in {build}")
        modalities = list(dict.fromkeys([*(base_manifest["modalities"] if base_manifest else []),
                                         *(s.modality for s in sources)]))
        entries, reports = {}, []
        first_source = len(all_sources) - len(sources)
        for m in modalities:
            mine = [(first_source + i, s) for i, s in enumerate(sources) if s.modality == m]
            base_entry = base_manifest["modalities"].get(m) if base_manifest else None
            entry, report = _modality(build / m, m, mine, base, base_entry, all_sources, dim, settings, say)
            entries[m], reports[len(reports):] = entry, [report]
        write_json_atomic(build / MANIFEST, {"format": FORMAT, "dim": dim, "created": time.time(),
                                             "sources": all_sources, "modalities": entries})
        version = publish(root, build)
    say(f"published {version}")
    return BuildReport(str(root), version.name, time.perf_counter() - started, resumed, reports)


def _prepare(build: Path, plan: dict[str, Any]) -> bool:
    """Keep the build area of an interrupted run with the same plan (True); otherwise start it afresh."""
    path = build / "plan.json"
    if path.is_file():
        try:
            if json.loads(path.read_text()) == json.loads(json.dumps(plan)):
                return True
        except ValueError:
            pass
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir(parents=True)
    write_json_atomic(path, plan)
    return False


def _modality(directory: Path, modality: str, sources: list[tuple[int, Source]], base: Path | None,
              base_entry: dict[str, Any] | None, all_sources: list[dict[str, Any]], dim: int,
              settings: BuildSettings, say: Log) -> tuple[dict[str, Any], ModalityReport]:
    done = directory / "done.json"
    if done.is_file():
        state = json.loads(done.read_text())
        return state["entry"], ModalityReport(**state["report"])
    started = time.perf_counter()
    directory.mkdir(parents=True, exist_ok=True)
    segments = _link_base(directory, base / modality, base_entry) if base_entry and base else []
    base_count = sum(rows for _, rows in segments)
    known = _known_paths(directory, segments, all_sources) if sources and segments else set()
    segments += _write_segments(directory, modality, sources, base_count, len(segments), known, settings, say)
    count = sum(rows for _, rows in segments)
    if count == 0:
        raise InputError(modality, "no items to index")
    if base_entry is not None:
        info = {**base_entry["index"], "memory_bytes": chooser.memory_bytes(base_entry["index"], count, dim)}
    else:
        info = chooser.choose(count, dim, settings.max_memory, settings.exact_limit, settings.index_type)
    entry = {"count": count, "segments": [{"name": n, "rows": r} for n, r in segments], "index": info}
    if info["type"] != "flat" and (base_entry is None or count > base_count):
        info = _approximate(directory, modality, entry, base, base_count, dim, settings, say)
        entry["index"] = info
    elif info["type"] != "flat" and base is not None:
        link_or_copy(base / modality / info["file"], directory / info["file"])
    seconds = time.perf_counter() - started
    disk = sum(p.stat().st_size for p in directory.iterdir() if p.name.startswith("seg-") or p.name == "index.faiss")
    report = ModalityReport(modality, count, count - base_count, info["type"], info.get("factory", ""),
                            int(info.get("memory_bytes", 0)), disk, round(seconds, 2), info.get("recall_at_10"),
                            dict(info.get("search", {})))
    write_json_atomic(done, {"entry": entry, "report": asdict(report)})
    for scratch in ("trained.faiss", "partial.faiss"):
        (directory / scratch).unlink(missing_ok=True)
    say(f"{modality}: {count} items, {info.get('factory') or info['type']}")
    return entry, report


def _link_base(directory: Path, base_dir: Path, base_entry: dict[str, Any]) -> list[tuple[str, int]]:
    segments = []
    for segment in base_entry["segments"]:
        for suffix in (".parquet", ".npy"):
            link_or_copy(base_dir / f"{segment['name']}{suffix}", directory / f"{segment['name']}{suffix}")
        segments.append((segment["name"], int(segment["rows"])))
    return segments


def _known_paths(directory: Path, segments: list[tuple[str, int]],
                 all_sources: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(collection root, path) of every item already indexed from a collection (for add's skipping)."""
    import pyarrow.parquet as pq

    known = set()
    for name, _ in segments:
        table = pq.read_table(directory / f"{name}.parquet", columns=["path", "source"])
        for path, source in zip(table.column("path").to_pylist(), table.column("source").to_pylist(), strict=True):
            root = all_sources[source].get("root") if source is not None and source < len(all_sources) else None
            if root:
                known.add((root, path))
    return known


def _write_segments(directory: Path, modality: str, sources: list[tuple[int, Source]], start: int, first: int,
                    known: set[tuple[str, str]], settings: BuildSettings, say: Log) -> list[tuple[str, int]]:
    """Cut the sources' rows into segments of ``segment_rows``; a segment finished by an earlier run is kept."""
    written: list[tuple[str, int]] = []
    rows: list[dict[str, Any]] = []
    vectors: list[np.ndarray] = []
    pending = 0
    next_row = start

    def flush() -> None:
        nonlocal rows, vectors, pending
        name = segment_name(first + len(written))
        if not segment_done(directory, name):
            write_segment(directory, name, rows, np.concatenate(vectors))
            say(f"{modality}: wrote {name} ({len(rows)} items)")
        written.append((name, len(rows)))
        rows, vectors, pending = [], [], 0

    for number, source in sources:
        for metadata, block in source.blocks():
            keep = [i for i, row in enumerate(metadata) if (source.root, row["path"]) not in known] \
                if known and source.root else range(len(metadata))
            for i in keep:
                rows.append({"id": make_id(modality, next_row), "modality": modality, "path": metadata[i]["path"],
                             "source": number, **{k: v for k, v in metadata[i].items() if k != "path"}})
                next_row += 1
            vectors.append(np.asarray(block[np.asarray(keep, dtype=np.int64)] if known else block, dtype=np.float32))
            pending += len(keep)
            while pending >= settings.segment_rows:
                whole = np.concatenate(vectors)
                tail_rows, tail = rows[settings.segment_rows:], whole[settings.segment_rows:]
                rows, vectors = rows[:settings.segment_rows], [whole[:settings.segment_rows]]
                flush()
                rows, vectors, pending = tail_rows, [tail], len(tail_rows)
    if pending:
        flush()
    return written


def _write_faiss(index: Any, path: Path) -> None:
    """faiss streams the index into ``utils.io.atomic_write``'s temporary file (no second copy in memory)."""
    import faiss

    with atomic_write(path) as handle:
        writer = faiss.PyCallbackIOWriter(handle.write)
        faiss.write_index(index, writer)
        del writer  # flushes faiss's buffer into the handle before it is synced and renamed


def _approximate(directory: Path, modality: str, entry: dict[str, Any], base: Path | None, base_count: int,
                 dim: int, settings: BuildSettings, say: Log) -> dict[str, Any]:
    """Train (or start from the base index), add every row with checkpoints, tune; returns the index info."""
    import faiss

    info = dict(entry["index"])
    final = directory / "index.faiss"
    segments = Segments(directory, [(s["name"], s["rows"]) for s in entry["segments"]])
    if not (directory / "tuned.json").is_file() or not final.is_file():
        partial, trained = directory / "partial.faiss", directory / "trained.faiss"
        if partial.is_file():
            index = faiss.read_index(str(partial))
        elif base is not None and base_count:
            index = faiss.read_index(str(base / modality / info["file"]))
        elif trained.is_file():
            index = faiss.read_index(str(trained))
        else:
            index = chooser.empty_index(info, dim)
            sample = chooser.training_rows(segments.count, info, settings.seed)
            if len(sample):
                say(f"{modality}: training {info['factory']} on {len(sample)} vectors")
                index.train(segments.gather(sample))
                _write_faiss(index, trained)
        last = time.monotonic()
        say(f"{modality}: adding {segments.count - index.ntotal} vectors to {info.get('factory') or info['type']}")
        for first, block in segments.iter_vectors(chunk=16384):
            if first + len(block) <= index.ntotal:
                continue
            index.add(block[index.ntotal - first:] if first < index.ntotal else block)
            if time.monotonic() - last > settings.checkpoint_seconds and index.ntotal < segments.count:
                _write_faiss(index, partial)
                last = time.monotonic()
        _write_faiss(index, final)
        del index
        info = _tune(directory, modality, entry, dim, settings, say)
        write_json_atomic(directory / "tuned.json", info)
    return json.loads((directory / "tuned.json").read_text())


def _tune(directory: Path, modality: str, entry: dict[str, Any], dim: int, settings: BuildSettings,
          say: Log) -> dict[str, Any]:
    """The cheapest search settings reaching the target recall@10 (module ``choose``); records the recall."""
    info = dict(entry["index"])
    part = ModalityIndex(directory, modality, {**entry, "index": {**info, "file": "index.faiss"}}, dim, mmap=True)
    n = min(chooser.TUNE_QUERIES, part.count)
    rows = np.sort(np.random.default_rng(settings.seed + 1).choice(part.count, size=n, replace=False))
    queries = part.segments.gather(rows)
    k = min(10, part.count - 1)
    if k < 1:
        return {**info, "search": chooser.settings_to_try(info)[0], "recall_at_10": 1.0}
    _, truth = part.exact_among(queries, np.arange(part.count), k + 1)
    truth = _without_self(truth, rows, k)
    best, recall = None, 0.0
    for params in chooser.settings_to_try(info):
        part.search_params = params
        _, found = part.approximate(queries, k + 1, None)
        recall = chooser.recall_at(_without_self(found, rows, k), truth, k)
        best = params
        if recall >= min(1.0, settings.target_recall + chooser.TUNE_MARGIN):
            break
    say(f"{modality}: search settings {best} -> recall@{k} {recall:.3f} on {n} indexed vectors as queries")
    if recall < settings.target_recall:
        say(f"{modality}: WARNING the target recall {settings.target_recall} was not reached")
    return {**info, "search": best, "recall_at_10": round(recall, 4)}


def _without_self(found: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    out = np.full((len(found), k), -1, dtype=np.int64)
    for i, (row, own) in enumerate(zip(found, rows, strict=True)):
        kept = [r for r in row.tolist() if r != own and r >= 0][:k]
        out[i, :len(kept)] = kept
    return out
