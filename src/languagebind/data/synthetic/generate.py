"""``generate``: build (or reuse) a VIDAL-mini dataset directory, in parallel, each split atomically.

Shards are the unit of work: every shard is rendered by one worker process straight into the split's temporary
directory; when all shards of a split are done its manifest and annotation are written and the directory is
renamed into place. A split whose ``split.json`` already records the same parameters is reused as it is.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from languagebind.data.synthetic.imu import LEAD as IMU_LEAD
from languagebind.data.synthetic.imu import RATE as IMU_RATE
from languagebind.data.synthetic.imu import trace_length
from languagebind.data.synthetic.options import GENERATOR_VERSION, SENSORS, SyntheticConfig
from languagebind.data.synthetic.sound import SAMPLE_RATE
from languagebind.data.synthetic.vocab import PERCEIVES
from languagebind.data.synthetic.writer import OFFICIAL_FOLDER, OFFICIAL_ROOT, SHARD_DIR, shard_name, write_shard
from languagebind.errors import InputError
from languagebind.processing.encode import check_codec
from languagebind.utils.io import write_json_atomic, write_text_atomic
from languagebind.utils.progress import progress as progress_bar

DATASET_FILE = "dataset.json"
SPLIT_FILE = "split.json"


@dataclass(frozen=True)
class SplitInfo:
    """One split on disk: its directory, manifest, shards, official annotation (and root if laid out)."""

    name: str
    path: Path
    size: int
    manifest: Path
    shards: list[Path]
    official_annotation: Path
    official_root: Path | None
    reused: bool


@dataclass(frozen=True)
class GeneratedDataset:
    """What ``generate`` made or found: the root (with ``dataset.json``), the splits and the time spent."""

    root: Path
    config: SyntheticConfig
    splits: dict[str, SplitInfo]
    seconds: float
    generated_items: int  # 0 when every split was reused

    @property
    def items_per_second(self) -> float:
        return self.generated_items / self.seconds if self.generated_items and self.seconds > 0 else 0.0

    def __getitem__(self, split: str) -> SplitInfo:
        return self.splits[split]


def generate(out_dir: str | Path, config: SyntheticConfig | None = None, *, fresh: bool = False,
             workers: int | None = None, progress: bool = False) -> GeneratedDataset:
    """Generate VIDAL-mini into ``out_dir`` (``<out_dir>/<split>/...`` and ``<out_dir>/dataset.json``).

    Args:
        out_dir: dataset root; created if missing.
        config: dataset parameters (default: the demo preset, ``SyntheticConfig()``).
        fresh: regenerate every split even when one with the same parameters exists.
        workers: worker processes (default: the CPU count, at most 8; 0 or 1 renders in this process). The
            output does not depend on it.
        progress: show a progress bar (tqdm, on stderr).

    Returns:
        A ``GeneratedDataset``; splits whose parameters match what is on disk are reused, not rewritten.
    """
    config = config or SyntheticConfig()
    check_codec(config.video_codec)
    root = Path(out_dir)
    if root.exists() and not root.is_dir():
        raise InputError(root, "the dataset directory is a file")
    root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    todo = [s for s, n in config.split_sizes().items() if fresh or not _reusable(root / s, config, s)]
    if todo:
        _render_splits(root, config, todo, workers, progress)
    splits = {s: _split_info(root, config, s, reused=s not in todo) for s in config.split_sizes()}
    manifest = dataset_description(config)
    if not (root / DATASET_FILE).is_file() or json.loads((root / DATASET_FILE).read_text()) != manifest:
        write_json_atomic(root / DATASET_FILE, manifest)
    generated = sum(config.split_sizes()[s] for s in todo)
    return GeneratedDataset(root, config, splits, time.perf_counter() - started, generated)


def dataset_description(config: SyntheticConfig) -> dict[str, Any]:
    """The content of ``dataset.json`` (no timings: equal configs give equal files)."""
    vocab = config.vocabulary()
    sizes = config.split_sizes()
    media = {"video": {"frames": config.num_frames, "fps": config.fps, "size": config.frame_size,
                       "codec": config.video_codec},
             "audio": {"sample_rate": SAMPLE_RATE, "channels": 1, "seconds": config.duration},
             "depth": {"format": "png uint16", "unit": "mm", "keyframes": config.keyframe_indices()},
             "thermal": {"format": "jpg rgb", "keyframes": config.keyframe_indices()},
             "image": {"format": "jpg rgb", "frame": config.still_index()},
             "point": {"format": "npy float32 (N, 3)", "points": config.num_points, "unit": "m",
                       "axes": "x right, y up, z towards the camera", "frame": config.still_index()},
             "imu": {"format": "npy float32 (T, 6)", "sample_rate": IMU_RATE, "steps": trace_length(config.duration),
                     "channels": ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"],
                     "unit": "m/s^2, rad/s", "start_seconds": -IMU_LEAD}}
    return {
        "generator": "vidal-mini", "version": GENERATOR_VERSION, "seed": config.seed, "sizes": sizes,
        "categories": list(config.categories), "attributes": vocab.to_dict(),
        "perceives": {m: list(a) for m, a in PERCEIVES.items()}, "held_out": vocab.held_out(),
        "media": {m: v for m, v in media.items() if m not in SENSORS or m in config.sensors},
        "splits": {s: {"size": n, "manifest": f"{s}/manifest.jsonl",
                       "shards": _shard_pattern(config, s),
                       "official_annotation": f"{s}/vidal.json",
                       "official_root": f"{s}/{OFFICIAL_ROOT}" if config.official_layout else None,
                       "official_folder": OFFICIAL_FOLDER} for s, n in sizes.items()},
        "config": config.to_dict(),
    }


def _shard_pattern(config: SyntheticConfig, split: str) -> str | None:
    """``train/shards/shard-{000000..000009}.tar`` (brace notation), None for an empty split."""
    count = _shard_count(config, split)
    return f"{split}/{SHARD_DIR}/shard-{{000000..{count - 1:06d}}}.tar" if count else None


def _split_fingerprint(config: SyntheticConfig, split: str) -> dict[str, Any]:
    """The parameters a split's content depends on (other splits' sizes excluded)."""
    data = config.to_dict()
    for other, key in (("train", "n_train"), ("val", "n_val"), ("test", "n_test"),
                       ("compositional", "n_compositional")):
        if other != split:
            data.pop(key)
    return {"version": GENERATOR_VERSION, "split": split, **data}


def _reusable(split_dir: Path, config: SyntheticConfig, split: str) -> bool:
    try:
        recorded = json.loads((split_dir / SPLIT_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return recorded == _split_fingerprint(config, split) and (split_dir / "manifest.jsonl").is_file()


def _shard_count(config: SyntheticConfig, split: str) -> int:
    return -(-config.split_sizes()[split] // config.shard_size)


def _render_splits(root: Path, config: SyntheticConfig, splits: list[str], workers: int | None,
                   progress: bool) -> None:
    temps = {s: _fresh_temp_dir(root, s) for s in splits}
    tasks = [(s, k) for s in splits for k in range(_shard_count(config, s))]
    workers = min(os.cpu_count() or 1, 8) if workers is None else workers
    bar = progress_bar(total=sum(config.split_sizes()[s] for s in splits), desc="VIDAL-mini", unit="clip",
                       enabled=progress)
    results: dict[str, dict[int, tuple[list[str], dict[str, Any]]]] = {s: {} for s in splits}
    try:
        with _executor(min(workers, len(tasks))) as pool:
            futures: dict[Future, tuple[str, int]] = {
                pool.submit(write_shard, config, s, k, temps[s]): (s, k) for s, k in tasks}
            for future in as_completed(futures):
                split, shard = futures[future]
                results[split][shard] = future.result()
                bar.update(len(results[split][shard][0]))
                if len(results[split]) == _shard_count(config, split):
                    _finish_split(root, temps.pop(split), config, split, results.pop(split))
        for split in [s for s in splits if config.split_sizes()[s] == 0]:
            _finish_split(root, temps.pop(split), config, split, {})
    finally:
        bar.close()
        for temp in temps.values():
            shutil.rmtree(temp, ignore_errors=True)


def _finish_split(root: Path, temp: Path, config: SyntheticConfig, split: str,
                  shards: dict[int, tuple[list[str], dict[str, Any]]]) -> None:
    """Write the split's manifest, annotation and ``split.json``, then move it into place."""
    lines = [line for k in sorted(shards) for line in shards[k][0]]
    entries = {key: value for k in sorted(shards) for key, value in shards[k][1].items()}
    temp.mkdir(parents=True, exist_ok=True)
    write_text_atomic(temp / "manifest.jsonl", "".join(line + "\n" for line in lines))
    write_json_atomic(temp / "vidal.json", entries, indent=None)
    write_json_atomic(temp / SPLIT_FILE, _split_fingerprint(config, split))
    final = root / split
    old = root / f".{split}.old-{os.getpid()}"
    if final.exists():
        os.replace(final, old)
    os.replace(temp, final)
    shutil.rmtree(old, ignore_errors=True)


def _split_info(root: Path, config: SyntheticConfig, split: str, reused: bool) -> SplitInfo:
    path = root / split
    return SplitInfo(
        name=split, path=path, size=config.split_sizes()[split], manifest=path / "manifest.jsonl",
        shards=[path / SHARD_DIR / shard_name(k) for k in range(_shard_count(config, split))],
        official_annotation=path / "vidal.json",
        official_root=path / OFFICIAL_ROOT if config.official_layout else None, reused=reused)


def _fresh_temp_dir(root: Path, split: str) -> Path:
    """``.<split>.tmp-<pid>``, after removing those left by processes that no longer run."""
    for stale in root.glob(f".{split}.*-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _process_alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    temp = root / f".{split}.tmp-{os.getpid()}"
    shutil.rmtree(temp, ignore_errors=True)
    return temp


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _InlineExecutor(Executor):
    """Runs each task when submitted (no worker processes)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def _executor(workers: int) -> Executor:
    if workers <= 1:
        return _InlineExecutor()
    # spawn: safe even when the caller has started threads (torch, tqdm) that fork would copy half-way.
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))

