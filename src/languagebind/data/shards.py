"""WebDataset tar shards: the one reader and writer of both layouts, on the ``webdataset`` package.

Members are grouped into samples by key, the WebDataset way (``webdataset.tariterators.group_by_keys``):
``dir/clip0001.depth.0.png`` has key ``dir/clip0001`` and field ``depth.0.png``; consecutive members with the
same key form one sample. Shards are read as streams (no random access, no index needed).

Two layouts, told apart by their fields:

* ours: ``json`` (the manifest record without paths: ``id``, ``text``, ``meta``), ``video.mp4``, ``audio.wav``,
  ``image.jpg``, ``depth.<k>.png`` (uint16 mm), ``thermal.<k>.jpg`` (other suffixes of the same name work too);
* official (``data/new_loadvat.py``): ``raw.txt``, ``mplug.txt``, ``polish_mplug.txt``, ``sound_mplug.txt``,
  ``ofa{k}.txt``, ``frm{0..7}.jpg`` (video frames), ``tml{k}.jpg`` (thermal), ``dep{k}.npy`` (depth, mm).

Writing (``write_tar`` / ``shard_writer``) goes through ``webdataset.TarWriter`` into an atomic temporary file:
the bytes depend on the members only (mtime 0, uid/gid 0, no user or group names, mode 0644) and the members
keep the caller's names and order. Where webdataset (1.0.2) does not do what we need:

* ``TarWriter.write`` sorts a sample's fields by name; our layouts have a fixed field order (``json`` first,
  keyframes 0..k), so each member is written by its own ``write`` call.
* ``TarWriter`` ignores its ``format`` argument (tarfile's default, POSIX/pax, is used: for ASCII names up to
  100 characters the same bytes as ustar; longer names get a pax header).
* ``tariterators.tar_file_iterator`` hides its ``TarFile``, and ``tarfile`` ends a stream silently at a header
  cut short, so a shard truncated between members would pass as complete. The members are therefore read here
  with ``tarfile`` (regular files only, as webdataset does) so that the end-of-archive marker can be checked.
* ``group_by_keys`` treats a field repeated within one key as an error (the shard is reported unreadable from
  there on), where a hand-written grouping could start a new sample.
"""

from __future__ import annotations

import contextlib
import glob
import json
import re
import tarfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from webdataset.tariterators import group_by_keys
from webdataset.writer import TarWriter

from languagebind.data.records import Blob, FrameSources, PairRecord, Source, record_id
from languagebind.data.text import TextViews
from languagebind.data.vidal_json import OFFICIAL_FRAME_FIELDS
from languagebind.errors import InputError
from languagebind.registry import is_modality
from languagebind.utils.io import atomic_write

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
    ``error`` names the shard, the last key read and the reason (the complete samples before it are yielded;
    the one being assembled is not)."""
    last: list[str | None] = [None]
    try:
        for sample in group_by_keys(_members(Path(path), last), keys=_keys):
            yield RawSample(path, sample["__key__"],
                            {k: v for k, v in sample.items() if k not in ("__key__", "__url__")})
    except (tarfile.TarError, EOFError, OSError, ValueError) as err:
        key = last[0]
        yield RawSample(path, key or Path(path).name, {},
                        f"shard {Path(path).name} unreadable after key {key!r}: {err}")


def _members(path: Path, last: list[str | None]) -> Iterator[dict[str, Any]]:
    """The regular files of a tar as webdataset's ``{"fname", "data", "__url__"}`` dicts, in file order;
    ``last[0]``: the key of the newest member read. An uncompressed tar must end in its end-of-archive marker."""
    compressed = path.suffix in (".gz", ".tgz", ".bz2", ".xz")
    with open(path, "rb") as handle, tarfile.open(fileobj=handle, mode="r|*") as tar:
        for member in tar:
            if not member.isfile():
                continue
            split = split_member_name(member.name)
            if split is not None:
                last[0] = split[0]
            data = tar.extractfile(member)
            yield {"fname": member.name, "data": data.read() if data is not None else b"", "__url__": str(path)}
        if not compressed:
            _check_end_marker(handle, tar.offset)


def _keys(name: str) -> tuple[str | None, str | None]:
    """``split_member_name`` in the form ``group_by_keys`` wants ((None, None): not a sample member)."""
    return split_member_name(name) or (None, None)


def _check_end_marker(handle: BinaryIO, offset: int) -> None:
    """``tarfile`` stops silently at a header cut short; a complete archive ends in zero blocks."""
    handle.seek(offset)
    tail = handle.read(1024)
    if len(tail) < 512 or tail.strip(b"\0"):
        raise tarfile.ReadError(f"truncated at byte {offset} (no end-of-archive marker)")


class _TarShard:
    """The callable ``shard_writer`` yields: ``add(name, data)`` appends one member."""

    def __init__(self, writer: TarWriter) -> None:
        self.writer, self.count = writer, 0

    def __call__(self, name: str, data: bytes) -> None:
        key, dot, field = name.partition(".")
        if not dot or not key or not field:
            raise ValueError(f"shard member {name!r} has no <key>.<field> form")
        self.writer.write({"__key__": key, field: data})  # one field per call: TarWriter sorts a sample's fields
        self.count += 1


@contextlib.contextmanager
def shard_writer(path: str | Path) -> Iterator[Callable[[str, bytes], None]]:
    """A reproducible tar written atomically at ``path``: call the yielded ``add(name, data)`` per member, in
    the order they should appear (names ``<key>.<field>``). On an exception ``path`` is left as it was."""
    with atomic_write(path) as handle, TarWriter(handle, user="", group="", mode=0o644, encoder=False,
                                                 keep_meta=True, mtime=0) as writer:
        yield _TarShard(writer)


def write_tar(path: str | Path, members: Iterable[tuple[str, bytes]]) -> int:
    """A reproducible tar of ``members`` (``(name, bytes)`` in order), written atomically; the member count."""
    with shard_writer(path) as add:
        for name, data in members:
            add(name, data)
    return add.count  # type: ignore[attr-defined]


def tar_samples(path: str | Path) -> dict[str, list[tuple[str, bytes]]]:
    """The members of an existing shard as ``{key: [(name, bytes), ...]}`` in file order; ``InputError`` for a
    corrupt one (naming the shard and the reason)."""
    grouped: dict[str, list[tuple[str, bytes]]] = {}
    for sample in iter_shard(Path(path)):
        if sample.error is not None:
            raise InputError(path, sample.error)
        grouped[sample.key] = [(f"{sample.key}.{field}", data) for field, data in sample.fields.items()]
    return grouped


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
        if not is_modality(field):
            continue
        if re.fullmatch(r"\d+\.\w+", rest):  # <modality>.<k>.<ext>: one of several files (frames)
            frames.setdefault(field, {})[int(rest.split(".")[0])] = Blob(f"{sample.key}.{name}", payload)
        else:  # <modality>.<ext>
            sources[field] = Blob(f"{sample.key}.{name}", payload)
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
