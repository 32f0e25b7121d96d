"""One training pair before decoding (``PairRecord``) and a compact store of many (``PackedRecords``).

A record names its modality items by *source*: a path, the bytes of one file (from a tar shard), or a list of
those (video frames, depth/thermal keyframes). Nothing is decoded or checked until the sample is loaded, so a
missing file is found (and skipped) in the DataLoader worker that needs it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from languagebind.data.text import TextViews
from languagebind.errors import InputError


@dataclass(frozen=True)
class Blob:
    """The bytes of one file read from a shard; ``name`` is its member name (for messages and its suffix)."""

    name: str
    data: bytes

    @property
    def suffix(self) -> str:
        return "." + self.name.rsplit(".", 1)[-1].lower() if "." in self.name else ""


Source = Path | Blob
FrameSources = tuple[Source, ...]


@dataclass(frozen=True)
class PairRecord:
    """A clip id, its modality sources (``{modality: Source | FrameSources}``), its texts and free metadata."""

    id: str
    sources: dict[str, Source | FrameSources]
    texts: TextViews
    meta: dict[str, Any] = field(default_factory=dict)


class RecordStore(Protocol):
    """Random access to records: ``len``, ``store[i]``, and ``origin`` (a name for messages)."""

    origin: str

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> PairRecord: ...


class PackedRecords:
    """Many records as one bytes buffer of JSON lines plus an offset array.

    A list of millions of Python dicts is copied page by page into every DataLoader worker as reference counts
    change (copy-on-write); one ``bytes`` object and one numpy array are not. ``parse`` turns a line's dict into
    a ``PairRecord``.
    """

    def __init__(self, buffer: bytes, offsets: np.ndarray, parse: Callable[[dict[str, Any]], PairRecord],
                 origin: str) -> None:
        self.buffer = buffer
        self.offsets = offsets  # (n + 1,) int64: line i is buffer[offsets[i]:offsets[i + 1]]
        self.parse = parse
        self.origin = origin

    @classmethod
    def from_lines(cls, lines: Sequence[bytes], parse: Callable[[dict[str, Any]], PairRecord],
                   origin: str) -> PackedRecords:
        offsets = np.zeros(len(lines) + 1, dtype=np.int64)
        np.cumsum([len(line) for line in lines], out=offsets[1:])
        return cls(b"".join(lines), offsets, parse, origin)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def raw(self, index: int) -> dict[str, Any]:
        line = self.buffer[self.offsets[index]:self.offsets[index + 1]]
        return json.loads(line)

    def __getitem__(self, index: int) -> PairRecord:
        return self.parse(self.raw(index))

    def __iter__(self) -> Iterator[PairRecord]:
        for i in range(len(self)):
            yield self[i]


def record_id(data: dict[str, Any], where: str) -> str:
    """The ``id`` of a record object, as a non-empty string."""
    value = data.get("id")
    if not isinstance(value, (str, int)) or str(value) == "":
        raise InputError(where, "every record needs a non-empty 'id'")
    return str(value)


class MemoryRecords:
    """Records over already-preprocessed tensors (``pixels[i]`` is item i as its tower takes it), for in-memory
    training. A text is a string, a list of alternative captions, or ``TextViews``."""

    def __init__(self, modality: str, pixels: Any, texts: Sequence[str | Sequence[str] | TextViews],
                 ids: Sequence[str] | None = None, origin: str = "memory") -> None:
        if len(pixels) != len(texts):
            raise InputError(origin, f"{len(pixels)} items but {len(texts)} texts")
        self.modality, self.pixels = modality, pixels
        self.texts = [_as_views(t) for t in texts]
        self.ids = [str(i) for i in ids] if ids is not None else [f"{origin}#{i}" for i in range(len(texts))]
        self.origin = origin

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, index: int) -> PairRecord:
        return PairRecord(self.ids[index], {self.modality: self.pixels[index]}, self.texts[index])

    def __iter__(self) -> Iterator[PairRecord]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return f"MemoryRecords({self.modality!r}, {len(self)} items, origin={self.origin!r})"


def _as_views(text: str | Sequence[str] | TextViews) -> TextViews:
    if isinstance(text, TextViews):
        return text
    if isinstance(text, str):
        return TextViews(captions=(text.strip(),))
    return TextViews(captions=tuple(str(t).strip() for t in text))
