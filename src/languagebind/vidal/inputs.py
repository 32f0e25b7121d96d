"""Where the inputs come from: a directory of videos with sidecar metadata, or a manifest (JSONL / CSV).

Directory: every file with a video or audio container ending is an input (audio-only files are reported as
filtered, not silently skipped), sorted by path. Its title and hashtags come from the first sidecar found next
to it: ``<stem>.json`` (``{"title": ..., "hashtags": [...] | "#a #b", "id": ..., "meta": {...}}``),
``<stem>.info.json`` (yt-dlp: ``title``, ``tags``, ``id``) or ``<stem>.txt`` (the raw text, e.g.
``"Dog surfing a wave #dog #surf"``). Manifest: one record per input with ``path`` (or ``video``; relative to the
manifest's folder), optional ``id``, ``title``, ``hashtags``, ``meta``; CSV columns of the same names.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from languagebind.errors import InputError
from languagebind.vidal.sample import InputItem

_MEDIA_TEXT = """
    .mp4 .m4v .mov .mkv .webm .avi .flv .mpg .mpeg .ts .3gp .ogv .wmv
    .m4a .mp3 .wav .flac .ogg .opus .aac
"""
MEDIA_SUFFIXES = frozenset(_MEDIA_TEXT.split())
SIDECAR_SUFFIXES = (".json", ".info.json", ".txt")
MANIFEST_SUFFIXES = (".jsonl", ".csv")
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_-]+")
_PROBLEM = "__problem__"  # set on a record whose metadata could not be read: the input is filtered, not fatal


@dataclass(frozen=True)
class InputList:
    """The inputs in processing order, plus what a directory scan ignored (ending -> count)."""

    items: tuple[InputItem, ...]
    ignored: dict[str, int]

    def fingerprint(self) -> str:
        """Hash of (id, source) of every input: a re-run must see the same list."""
        digest = hashlib.sha256()
        for item in self.items:
            digest.update(f"{item.id}\t{item.source}\n".encode())
        return digest.hexdigest()


def read_inputs(path: str | Path) -> InputList:
    """The inputs under a directory, or listed by a ``.jsonl`` / ``.csv`` manifest."""
    path = Path(path)
    if path.is_dir():
        records, ignored = _scan_directory(path)
    elif path.suffix.lower() in MANIFEST_SUFFIXES and path.is_file():
        records, ignored = _read_manifest(path), {}
    elif not path.exists():
        raise InputError(path, "input does not exist (give a directory of videos or a .jsonl/.csv manifest)")
    else:
        raise InputError(path, "not a directory or a .jsonl/.csv manifest")
    items, seen = [], set()
    for index, (video, source, record) in enumerate(records):
        item_id = safe_id(str(record.get("id") or Path(source).stem), index)
        problem = str(record.get(_PROBLEM, ""))
        if item_id in seen and not problem:
            problem = f"duplicate_id: {item_id!r} is used by an earlier input"
        seen.add(item_id)
        meta = record.get("meta")
        items.append(InputItem(index=index, id=item_id, path=str(video), source=source,
                               title=str(record.get("title") or ""), hashtags=_hashtags(record),
                               meta=dict(meta) if isinstance(meta, dict) else {}, problem=problem))
    return InputList(tuple(items), ignored)


def safe_id(raw: str, index: int) -> str:
    """``raw`` with every character outside ``[A-Za-z0-9_-]`` replaced, so it is a WebDataset key (no dots)."""
    cleaned = _UNSAFE_ID.sub("_", raw).strip("_")
    return cleaned or f"input{index:08d}"


def _scan_directory(root: Path) -> tuple[list[tuple[Path, str, dict[str, Any]]], dict[str, int]]:
    records, ignored = [], Counter()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        suffix = path.suffix.lower()
        if suffix in MEDIA_SUFFIXES:
            records.append((path.resolve(), path.relative_to(root).as_posix(), read_sidecar(path)))
        elif not path.name.lower().endswith(SIDECAR_SUFFIXES):
            ignored[suffix or "(none)"] += 1
    return records, dict(sorted(ignored.items()))


def read_sidecar(video: Path) -> dict[str, Any]:
    """The metadata next to ``video`` (``.json``, ``.info.json``, ``.txt``); empty when there is none."""
    for suffix in SIDECAR_SUFFIXES:
        sidecar = video.with_name(video.stem + suffix)
        if not sidecar.is_file():
            continue
        text = sidecar.read_text(encoding="utf-8", errors="replace")
        if suffix == ".txt":
            return {"title": text.strip()}
        try:
            record = json.loads(text)
        except json.JSONDecodeError as err:
            return {_PROBLEM: f"bad_sidecar: {sidecar.name} is not valid JSON ({err.msg} at line {err.lineno})"}
        if not isinstance(record, dict):
            return {_PROBLEM: f"bad_sidecar: {sidecar.name} is not a JSON object"}
        return record
    return {}


def _read_manifest(manifest: Path) -> list[tuple[Path, str, dict[str, Any]]]:
    if manifest.suffix.lower() == ".csv":
        with manifest.open(newline="", encoding="utf-8") as handle:
            rows: Iterable[dict[str, Any]] = list(csv.DictReader(handle))
    else:
        rows = []
        for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise InputError(f"{manifest}:{number}", f"not valid JSON ({err.msg})") from err
            if not isinstance(row, dict):
                raise InputError(f"{manifest}:{number}", "each line must be a JSON object")
            rows.append(row)
    records = []
    for number, row in enumerate(rows, start=1):
        source = row.get("path") or row.get("video")
        if not source:
            raise InputError(f"{manifest}:{number}", "record has no 'path'")
        video = Path(source) if Path(source).is_absolute() else manifest.parent / source
        records.append((video.resolve(), str(source), row))
    return records


def _hashtags(record: dict[str, Any]) -> tuple[str, ...]:
    tags = record.get("hashtags", record.get("tags")) or ()
    if isinstance(tags, str):
        tags = tags.replace(",", " ").split()
    return tuple(str(t).strip().lstrip("#") for t in tags if str(t).strip().lstrip("#"))
