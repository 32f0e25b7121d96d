"""Write rendered items into a split directory: media files, a WebDataset shard, manifest lines and official
VIDAL annotation entries. One call handles one shard's worth of items, so shards can be built in parallel.

Split directory layout (paths in the manifest are relative to it)::

    manifest.jsonl                      our manifest, one record per clip
    shards/shard-000000.tar ...         our WebDataset shards (<id>.video.mp4, <id>.depth.0.png, <id>.json ...)
    vidal.json                          official annotation {id: {folder, mplug, polish_mplug, ofa, ...}}
    video/<id>.mp4  audio/<id>.wav  image/<id>.jpg  depth/<id>_<k>.png  thermal/<id>_<k>.jpg
    point/<id>.npy  imu/<id>.npy        (the official layout has neither: VIDAL-10M has no such modality)
    official/vidal_mini_resize256_skip15/<id>.mp4         (official_layout only: hard links into the above)
    official/vidal_mini/<id>.wav
    official/vidal_mini/<id>_depth_f8glpn_folder/<k>.png
    official/vidal_mini/<id>_thermal_folder/<k>.jpg
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from languagebind.data.shards import shard_writer
from languagebind.data.synthetic.item import Item, render_item
from languagebind.data.synthetic.options import SyntheticConfig

OFFICIAL_ROOT = "official"
OFFICIAL_FOLDER = "vidal_mini"
SHARD_DIR = "shards"


def shard_name(index: int) -> str:
    return f"shard-{index:06d}.tar"


def our_path(item_id: str, field: str) -> str:
    """Where a field's file lives in our layout: ``depth.3.png`` -> ``depth/<id>_3.png``."""
    modality, *rest = field.split(".")
    if len(rest) == 2:  # a keyframe: modality.k.suffix
        return f"{modality}/{item_id}_{rest[0]}.{rest[1]}"
    return f"{modality}/{item_id}.{rest[0]}"


def official_path(item_id: str, field: str) -> str | None:
    """Where the official loader looks for a field's file (None: the official layout has no such file)."""
    modality, *rest = field.split(".")
    base = f"{OFFICIAL_ROOT}/{OFFICIAL_FOLDER}"
    if modality == "video":
        return f"{OFFICIAL_ROOT}/{OFFICIAL_FOLDER}_resize256_skip15/{item_id}.mp4"
    if modality == "audio":
        return f"{base}/{item_id}.wav"
    if modality == "depth":
        return f"{base}/{item_id}_depth_f8glpn_folder/{rest[0]}.png"
    if modality == "thermal":
        return f"{base}/{item_id}_thermal_folder/{rest[0]}.jpg"
    return None


def manifest_record(item: Item) -> dict[str, Any]:
    """Our manifest record: single files as a path, keyframes as a list of paths."""
    record: dict[str, Any] = {"id": item.id}
    for field in item.files:
        modality = field.split(".")[0]
        path = our_path(item.id, field)
        if field.count(".") == 2:
            record.setdefault(modality, []).append(path)
        else:
            record[modality] = path
    record["text"] = item.text
    record["meta"] = item.meta
    return record


def official_entry(item: Item) -> dict[str, Any]:
    """The official annotation entry (field names of VIDAL-10M's JSON)."""
    t = item.text
    return {"folder": OFFICIAL_FOLDER, "mplug": t["video_caption"], "polish_mplug": t["polished_caption"],
            "ofa": list(t["keyframe_captions"]), "sound_mplug": t["sound_caption"], "raw": t["raw"]}


def write_shard(config: SyntheticConfig, split: str, shard: int, split_dir: Path) -> tuple[list[str], dict[str, Any]]:
    """Render shard ``shard`` of ``split`` into ``split_dir`` (files, links, tar); return its manifest lines
    (JSON strings, in item order) and official annotation entries."""
    size = config.split_sizes()[split]
    start, stop = shard * config.shard_size, min((shard + 1) * config.shard_size, size)
    lines: list[str] = []
    entries: dict[str, Any] = {}
    made: set[Path] = set()
    (split_dir / SHARD_DIR).mkdir(parents=True, exist_ok=True)
    with shard_writer(split_dir / SHARD_DIR / shard_name(shard)) as add:
        for index in range(start, stop):
            item = render_item(config, split, index)
            _write_files(item, split_dir, config.official_layout, made)
            record = manifest_record(item)
            lines.append(json.dumps(record, ensure_ascii=False))
            entries[item.id] = official_entry(item)
            members = [*item.files.items(), ("json", _json_bytes({"id": item.id, "text": item.text,
                                                                  "meta": item.meta}))]
            for field, data in members:
                add(f"{item.id}.{field}", data)
    return lines, entries


def _write_files(item: Item, split_dir: Path, official: bool, made: set[Path]) -> None:
    """Write the item's files (and their official-layout links); ``made``: directories known to exist."""
    for field, data in item.files.items():
        path = split_dir / our_path(item.id, field)
        _make_parent(path, made)
        path.write_bytes(data)
        target = official_path(item.id, field) if official else None
        if target is not None:
            _make_parent(split_dir / target, made)
            _link(path, split_dir / target)


def _make_parent(path: Path, made: set[Path]) -> None:
    if path.parent not in made:
        path.parent.mkdir(parents=True, exist_ok=True)
        made.add(path.parent)


def _link(source: Path, target: Path) -> None:
    """Hard-link ``target`` to ``source`` (a copy where the filesystem has no hard links)."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")

