"""The official VIDAL annotation JSON (``{id: {folder, mplug, polish_mplug, ofa: [8], sound_mplug, raw}}``) plus
a data root, with the official path rules (``data/base_datasets.py``, ``data/process_video.py``):

* video: ``{root}/{folder}_resize256_skip15/{id}.mp4`` (``{root}/new_download_resize256_skip15/{id}.mp4`` when
  ``folder`` starts with ``new_``); when that file is absent, its frame folder ``{id}_resize256_folder/{0..7}.jpg``
  beside it (the official ``imgs`` backend);
* depth: ``{root}/{folder}/{id}_depth_f8glpn_folder/{k}.png`` (16-bit, millimetres), k = 0..7;
* thermal: ``{root}/{folder}/{id}_thermal_folder/{k}.jpg``;
* audio (undefined in the official code, whose ``get_audio_anno`` does not exist): ours is
  ``{root}/{folder}/{id}.wav`` or ``.flac`` when present, else the audio track of the video file.

The data root is an argument (the official one is hard-coded). All keys are used unless ``limit`` is given (the
official loader takes the first N keys).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from languagebind.data.records import FrameSources, PackedRecords, PairRecord, Source
from languagebind.data.text import TextViews
from languagebind.errors import InputError

NUM_KEYFRAMES = 8
# The official VIDAL shard layout's member prefixes (``frm{k}.jpg``, ``tml{k}.jpg``, ``dep{k}.npy``); this module
# holds the official VIDAL layouts, so it names the released modalities.
OFFICIAL_FRAME_FIELDS = {"frm": "video", "tml": "thermal", "dep": "depth"}
AUDIO_SUFFIXES = (".wav", ".flac")


def read_vidal(annotation: str | Path, data_root: str | Path, limit: int | None = None) -> PackedRecords:
    """Load the annotation JSON and pack its entries (files are resolved later, per sample)."""
    annotation, root = Path(annotation), Path(data_root)
    try:
        data = json.loads(annotation.read_bytes())
    except OSError as err:
        raise InputError(annotation, f"cannot read the annotation file ({err.strerror or err})") from err
    except json.JSONDecodeError as err:
        raise InputError(annotation, f"not valid JSON ({err.msg} at line {err.lineno})") from err
    if not isinstance(data, dict) or not data:
        raise InputError(annotation, "expected a non-empty JSON object {id: {folder, mplug, ...}}")
    if not root.is_dir():
        raise InputError(root, "the data root is not a directory")
    lines = []
    for key, entry in data.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("folder"), str):
            raise InputError(f"{annotation}: {key}", "each entry must be an object with a 'folder' string")
        lines.append(json.dumps({"id": key, **entry}, ensure_ascii=False).encode() + b"\n")
        if limit is not None and len(lines) >= limit:
            break
    del data
    return PackedRecords.from_lines(lines, functools.partial(parse_vidal_record, root=root), str(annotation))


def video_dir(root: Path, folder: str) -> Path:
    """The folder holding a clip's resized video (official rule, ``new_`` folders share one)."""
    return root / ("new_download_resize256_skip15" if folder.startswith("new_") else f"{folder}_resize256_skip15")


def parse_vidal_record(data: dict[str, Any], root: Path) -> PairRecord:
    """One annotation entry -> ``PairRecord`` with the official file layout under ``root``."""
    rid, folder = str(data["id"]), data["folder"]
    videos = video_dir(root, folder)
    mp4 = videos / f"{rid}.mp4"
    frames_dir = videos / f"{rid}_resize256_folder"
    video: Source | FrameSources = mp4
    if not mp4.exists() and frames_dir.is_dir():
        video = tuple(frames_dir / f"{k}.jpg" for k in range(NUM_KEYFRAMES))
    audio: Source = next((p for p in (root / folder / f"{rid}{s}" for s in AUDIO_SUFFIXES) if p.exists()), mp4)
    sources: dict[str, Source | FrameSources] = {
        "video": video,
        "audio": audio,
        "depth": tuple(root / folder / f"{rid}_depth_f8glpn_folder" / f"{k}.png" for k in range(NUM_KEYFRAMES)),
        "thermal": tuple(root / folder / f"{rid}_thermal_folder" / f"{k}.jpg" for k in range(NUM_KEYFRAMES)),
    }
    texts = TextViews.from_official({k: v for k, v in data.items() if k not in ("id", "folder")})
    return PairRecord(rid, sources, texts, {"folder": folder})
