"""What a benchmark reader returns, and the file helpers every reader shares.

Readers only parse annotation files and name the media files; they never decode media. A media file that
is absent keeps the path where it was expected, so the runner can list it as missing.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from languagebind.errors import InputError

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".3gp", ".flv", ".wmv")
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".aac", ".opus", ".mp4", ".mkv", ".webm")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
DEPTH_EXTENSIONS = (".png", ".npy", ".tif", ".tiff")


@dataclass(frozen=True)
class RetrievalSet:
    """Items (videos or audios) and their captions; ``caption_item[c]`` is the item index of caption ``c``."""

    items: list[Path]
    captions: list[str]
    caption_item: list[int]

    def __post_init__(self) -> None:
        if len(self.captions) != len(self.caption_item):
            raise ValueError("one item index per caption")

    def subset(self, keep: Sequence[int]) -> RetrievalSet:
        """The items at ``keep`` (in that order) and their captions."""
        new_index = {old: new for new, old in enumerate(keep)}
        pairs = [(text, new_index[i]) for text, i in zip(self.captions, self.caption_item, strict=True)
                 if i in new_index]
        pairs.sort(key=lambda pair: pair[1])  # stable: captions keep their order within an item
        return RetrievalSet([self.items[i] for i in keep], [p[0] for p in pairs], [p[1] for p in pairs])


@dataclass(frozen=True)
class ClassificationSet:
    """Items with one class index each (``labels``) or several (``targets``, multi-label)."""

    items: list[Path]
    classnames: list[str]
    labels: list[int] = field(default_factory=list)
    targets: list[list[int]] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)  # e.g. the ESC-50 fold of each item

    @property
    def multilabel(self) -> bool:
        return bool(self.targets)

    def subset(self, keep: Sequence[int]) -> ClassificationSet:
        """The items at ``keep`` (in that order)."""
        pick = lambda values: [values[i] for i in keep] if values else []  # noqa: E731
        return replace(self, items=pick(self.items), labels=pick(self.labels), targets=pick(self.targets),
                       groups=pick(self.groups))


Dataset = RetrievalSet | ClassificationSet


# -- annotation files ----------------------------------------------------------------------------------
def find_annotation(root: Path, names: Sequence[str], what: str) -> Path:
    """The first of ``names`` directly in ``root``, else anywhere below it (sorted search)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "the --data directory does not exist")
    for name in names:
        if (root / name).is_file():
            return root / name
    for name in names:
        found = sorted(p for p in root.rglob(name) if p.is_file())
        if found:
            return found[0]
    raise InputError(root, f"no {what} found (looked for {', '.join(names)} in this directory and below)")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(path, f"cannot read JSON ({err})") from err


def read_lines(path: Path) -> list[str]:
    try:
        return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(path, f"cannot read ({err})") from err


def read_csv_rows(path: Path, delimiter: str = ",", skip_comments: bool = False) -> list[list[str]]:
    """All rows of a CSV/TSV file as lists of stripped strings (``#`` comment lines optionally dropped)."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            lines: Iterable[str] = handle
            if skip_comments:
                lines = [line for line in handle if not line.lstrip().startswith("#")]
            return [[cell.strip() for cell in row] for row in csv.reader(lines, delimiter=delimiter,
                                                                         skipinitialspace=True) if row]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InputError(path, f"cannot read CSV ({err})") from err


def read_csv_dicts(path: Path, required: Sequence[str], delimiter: str = ",") -> list[dict[str, str]]:
    """Rows of a CSV with a header, checked to have the ``required`` columns."""
    rows = read_csv_rows(path, delimiter)
    if not rows:
        raise InputError(path, "the file is empty")
    header = rows[0]
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(missing)}; header is {', '.join(header)}")
    return [dict(zip(header, row, strict=False)) for row in rows[1:]]


def cell(row: dict[str, str] | list[str], key: str | int, path: Path, line: int) -> str:
    """One non-empty cell, or an InputError naming the file and line."""
    try:
        value = row[key]  # type: ignore[index]
    except (KeyError, IndexError):
        value = None
    if not value:
        raise InputError(path, f"line {line}: empty or missing field {key!r}")
    return value


# -- media files ---------------------------------------------------------------------------------------
class FileIndex:
    """Media files below ``root`` with one of ``extensions``, looked up by file name or by stem."""

    def __init__(self, root: Path, extensions: Sequence[str]) -> None:
        self.root = Path(root)
        self.extensions = tuple(extensions)
        self.by_name: dict[str, Path] = {}
        self.by_stem: dict[str, Path] = {}
        for path in sorted(p for p in self.root.rglob("*") if p.suffix.lower() in self.extensions and p.is_file()):
            self.by_name.setdefault(path.name, path)
            self.by_stem.setdefault(path.stem, path)

    def find(self, keys: Sequence[str], expected: Path) -> Path:
        """The first file whose name, then stem, equals a key; else ``expected`` (reported as missing)."""
        for key in keys:
            if key in self.by_name:
                return self.by_name[key]
        for key in keys:
            if key in self.by_stem:
                return self.by_stem[key]
        return expected


def class_folder_items(root: Path, folder_names: Sequence[str], extensions: Sequence[str],
                       splits: Sequence[str] = ("val", "test")) -> tuple[Path, list[Path], list[int]]:
    """ImageFolder-style layout: ``<root>[/<split>]/<class folder>/<files>`` -> (split dir, files, labels).

    Labels are positions in ``folder_names`` (the official class order); an unknown folder is an error.
    Files are sorted by class, then by path.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "the --data directory does not exist")
    known = set(folder_names)
    candidates = [root / s for s in splits] + [root]
    base = next((c for c in candidates if c.is_dir() and any((c / n).is_dir() for n in folder_names)), None)
    if base is None:
        raise InputError(root, f"no class folders ({', '.join(folder_names[:4])}, ...) under "
                               f"{' or '.join(str(c) for c in candidates)}")
    unknown = sorted(p.name for p in base.iterdir() if p.is_dir() and p.name not in known)
    if unknown:
        raise InputError(base, f"unknown class folder(s) {', '.join(unknown[:5])}; expected {', '.join(folder_names)}")
    items, labels = [], []
    for label, name in enumerate(folder_names):
        folder = base / name
        if folder.is_dir():
            files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in extensions and p.is_file())
            items.extend(files)
            labels.extend([label] * len(files))
    if not items:
        raise InputError(base, f"the class folders hold no files ending in {', '.join(extensions)}")
    return base, items, labels
