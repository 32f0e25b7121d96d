"""Our JSONL manifest: one JSON object per line, paths relative to the manifest's folder.

```json
{"id": "clip0001", "video": "v/1.mp4", "audio": "a/1.wav", "image": "i/1.jpg",
 "depth": ["d/1_0.png", "..."], "thermal": ["t/1_0.jpg", "..."],
 "text": {"raw": "title #tag", "keyframe_captions": ["..."], "video_caption": "...",
          "polished_caption": "...", "sound_caption": "..."},
 "meta": {"category": "dog"}}
```
Every modality and text field is optional; a modality field is named after a registered modality
(``languagebind.registry``). A modality value is one path or a list of paths (frames).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from languagebind.data.records import FrameSources, PackedRecords, PairRecord, Source, record_id
from languagebind.data.text import TextViews
from languagebind.errors import InputError
from languagebind.registry import is_modality, modality_names

RECORD_FIELDS = ("id", "text", "meta")  # besides one field per registered modality


def read_manifest(path: str | Path, limit: int | None = None) -> PackedRecords:
    """Check every line's structure (bad JSON, no id, unknown keys raise ``InputError`` naming the line) and
    keep the lines packed; files are not touched here."""
    path = Path(path)
    try:
        text = path.read_bytes()
    except OSError as err:
        raise InputError(path, f"cannot read the manifest ({err.strerror or err})") from err
    lines = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(where, f"not valid JSON ({err.msg})") from err
        if not isinstance(data, dict):
            raise InputError(where, "each line must be a JSON object")
        record_id(data, where)
        unknown = {k for k in data if k not in RECORD_FIELDS and not is_modality(k)}
        if unknown:
            known = ", ".join(sorted([*RECORD_FIELDS, *modality_names()]))
            raise InputError(where, f"unknown fields {sorted(unknown)}; known: {known}")
        if not isinstance(data.get("text", {}), dict):
            raise InputError(where, "'text' must be an object of text views")
        lines.append(line.strip() + b"\n")
        if limit is not None and len(lines) >= limit:
            break
    if not lines:
        raise InputError(path, "the manifest has no records")
    return PackedRecords.from_lines(lines, functools.partial(parse_manifest_record, root=path.parent), str(path))


def parse_manifest_record(data: dict[str, Any], root: Path) -> PairRecord:
    """One manifest object -> ``PairRecord`` with paths resolved against ``root``."""
    rid = record_id(data, str(root))
    sources: dict[str, Source | FrameSources] = {}
    for modality, value in data.items():
        if value is None or modality in RECORD_FIELDS or not is_modality(modality):
            continue
        if isinstance(value, str):
            sources[modality] = root / value
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            sources[modality] = tuple(root / v for v in value)
        else:
            raise InputError(rid, f"'{modality}' must be a path or a non-empty list of paths")
    return PairRecord(rid, sources, TextViews.from_ours(data.get("text") or {}), dict(data.get("meta") or {}))
