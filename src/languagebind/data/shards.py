"""WebDataset tar shards, read with ``tarfile`` as a stream (no random access, no index needed).

Members are grouped into samples by key, the WebDataset way: ``dir/clip0001.depth.0.png`` has key
``dir/clip0001`` and field ``depth.0.png``; consecutive members with the same key form one sample.

Two layouts, told apart by their fields:

* ours: ``json`` (the manifest record without paths: ``id``, ``text``, ``meta``), ``video.mp4``, ``audio.wav``,
  ``image.jpg``, ``depth.<k>.png`` (uint16 mm), ``thermal.<k>.jpg`` (other suffixes of the same name work too);
* official (``data/new_loadvat.py``): ``raw.txt``, ``mplug.txt``, ``polish_mplug.txt``, ``sound_mplug.txt``,
  ``ofa{k}.txt``, ``frm{0..7}.jpg`` (video frames), ``tml{k}.jpg`` (thermal), ``dep{k}.npy`` (depth, mm).
"""

from __future__ import annotations

import glob
import json
import re
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from languagebind.data.records import Blob, FrameSources, PairRecord, Source, record_id
from languagebind.data.text import TextViews
from languagebind.errors import InputError

OUR_SINGLE_FIELDS = ("video", "audio", "image")
OUR_FRAME_FIELDS = ("depth", "thermal")
OFFICIAL_FRAME_FIELDS = {"frm": "video", "tml": "thermal", "dep": "depth"}
OFFICIAL_TEXT_FIELDS = ("raw", "mplug", "polish_mplug", "sound_mplug")


@dataclass(frozen=True)
class RawSample:
    """A sample's members as read from a shard, or a read failure (``error`` set, ``fields`` empty)."""

    shard: Path
    key: str
    fields: dict[str, bytes]
    error: str | None = None


def expand_shards(spec: str | Path | Sequence[str | Path]) -> list[Path]:
    """A shard list from brace notation (``data/shard-{000000..000009}.tar``), a glob, a directory of ``*.tar``,
    a single file, or a list of those. Sorted within each pattern; every shard must exist."""
    if isinstance(spec, (list, tuple)):
        return [p for s in spec for p in expand_shards(s)]
    text = str(spec)
    if Path(text).is_dir():
        found = sorted(Path(text).glob("*.tar"))
        if not found:
            raise InputError(text, "the directory has no .tar shards")
        return found
    paths: list[Path] = []
    for pattern in _braces(text):
        if glob.has_magic(pattern):
            paths.extend(Path(p) for p in sorted(glob.glob(pattern)))
        else:
            paths.append(Path(pattern))
    if not paths:
        raise InputError(text, "no shard matches the pattern")
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise InputError(missing[0], f"shard not found ({len(missing)} of {len(paths)} missing)")
    return paths


def _braces(pattern: str) -> list[str]:
    """Expand ``{a,b}`` and ``{000..012}`` (zero padding kept), like the ``braceexpand`` package."""
    match = re.search(r"\{([^{}]*)\}", pattern)
    if not match:
        return [pattern]
    head, body, tail = pattern[:match.start()], match.group(1), pattern[match.end():]
    span = re.fullmatch(r"(\d+)\.\.(\d+)", body)
    if span:
        lo, hi = span.groups()
        width = len(lo) if lo.startswith("0") else 0
        options = [str(i).zfill(width) for i in range(int(lo), int(hi) + 1)]
    else:
        options = body.split(",")
    return [expanded for option in options for expanded in _braces(head + option + tail)]


def split_member_name(name: str) -> tuple[str, str] | None:
    """``"dir/clip.depth.0.png"`` -> ``("dir/clip", "depth.0.png")``; None for names without a field."""
    directory, _, base = name.rpartition("/")
    key, dot, field = base.partition(".")
    if not dot or not key or not field:
        return None
    return (f"{directory}/{key}" if directory else key), field.lower()


def iter_shard(path: Path) -> Iterator[RawSample]:
    """The samples of one shard in file order. A truncated or corrupt shard ends with one ``RawSample`` whose
    ``error`` says where reading stopped (the samples before it are still yielded)."""
    key, fields = None, {}
    compressed = path.suffix in (".gz", ".tgz", ".bz2", ".xz")
    try:
        with open(path, "rb") as handle, tarfile.open(fileobj=handle, mode="r|*") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                split = split_member_name(member.name)
                if split is None:
                    continue
                if key is not None and (split[0] != key or split[1] in fields):
                    yield RawSample(path, key, fields)
                    fields = {}
                key = split[0]
                data = tar.extractfile(member)
                fields[split[1]] = data.read() if data is not None else b""
            if not compressed:
                _check_end_marker(handle, tar.offset)
    except (tarfile.TarError, EOFError, OSError, ValueError) as err:
        # The sample being assembled may be incomplete: report it with the error instead of yielding it.
        yield RawSample(path, key or path.name, {}, f"shard {path.name} unreadable after key {key!r}: {err}")
        return
    if key is not None:
        yield RawSample(path, key, fields)


def _check_end_marker(handle: BinaryIO, offset: int) -> None:
    """``tarfile`` stops silently at a header cut short; a complete archive ends in zero blocks."""
    handle.seek(offset)
    tail = handle.read(1024)
    if len(tail) < 512 or tail.strip(b"\0"):
        raise tarfile.ReadError(f"truncated at byte {offset} (no end-of-archive marker)")


def shard_record(sample: RawSample) -> PairRecord:
    """Decode a sample's text fields into a ``PairRecord``; media stay bytes (``Blob``) until loaded."""
    if sample.error is not None:
        raise InputError(sample.key, sample.error)
    f = sample.fields
    if "json" in f:
        return _our_record(sample)
    if any(name.endswith(".txt") for name in f):
        return _official_record(sample)
    raise InputError(sample.key, f"neither our layout (json) nor the official one (*.txt) in {sorted(f)}")


def _our_record(sample: RawSample) -> PairRecord:
    try:
        data = json.loads(sample.fields["json"])
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(sample.key, f"json field is not valid JSON ({err})") from err
    if not isinstance(data, dict):
        raise InputError(sample.key, "json field must be an object")
    rid = record_id({"id": sample.key, **data}, sample.key)
    sources: dict[str, Source | FrameSources] = {}
    frames: dict[str, dict[int, Blob]] = {}
    for name, payload in sample.fields.items():
        field, _, rest = name.partition(".")
        if field in OUR_SINGLE_FIELDS:
            sources[field] = Blob(f"{sample.key}.{name}", payload)
        elif field in OUR_FRAME_FIELDS and re.fullmatch(r"\d+\.\w+", rest):
            frames.setdefault(field, {})[int(rest.split(".")[0])] = Blob(f"{sample.key}.{name}", payload)
    meta = dict(data.get("meta") or {})
    _add_frames(sources, frames, meta)
    return PairRecord(rid, sources, TextViews.from_ours(data.get("text") or {}), meta)


def _official_record(sample: RawSample) -> PairRecord:
    texts: dict[str, object] = {}
    frames: dict[str, dict[int, Blob]] = {}
    for name, payload in sample.fields.items():
        stem, _, suffix = name.partition(".")
        if suffix == "txt" and (stem in OFFICIAL_TEXT_FIELDS or re.fullmatch(r"ofa\d+", stem)):
            texts[stem] = payload
            continue
        match = re.fullmatch(r"(frm|tml|dep)(\d+)", stem)
        if match:
            modality = OFFICIAL_FRAME_FIELDS[match.group(1)]
            frames.setdefault(modality, {})[int(match.group(2))] = Blob(f"{sample.key}.{name}", payload)
    sources: dict[str, Source | FrameSources] = {}
    meta: dict[str, object] = {"layout": "official"}
    _add_frames(sources, frames, meta)
    return PairRecord(sample.key, sources, TextViews.from_official(texts), meta)


def _add_frames(sources: dict[str, Source | FrameSources], frames: dict[str, dict[int, Blob]],
                meta: dict[str, object]) -> None:
    """Frames 0..n-1 in order. A gap (e.g. ``frm3`` absent) leaves the modality out, with the reason in
    ``meta["problems"]``, so only training on that modality skips the sample."""
    for modality, blobs in frames.items():
        indices = sorted(blobs)
        if indices == list(range(len(indices))):
            sources[modality] = tuple(blobs[i] for i in indices)
        else:
            problems = meta.setdefault("problems", {})
            problems[modality] = f"{modality} frames are not numbered 0..{len(indices) - 1}: {indices}"
