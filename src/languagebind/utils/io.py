"""Atomic file writes: a reader never sees a half-written file, a crash leaves the old one (or none)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success fsync it and rename it over ``path``.

    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the mode open() would
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new file in ``directory`` durable (a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def save_npy_atomic(path: str | Path, array: np.ndarray) -> None:
    """Write ``array`` as a ``.npy`` file atomically."""
    with atomic_write(path) as handle:
        np.save(handle, array)


def write_json_atomic(path: str | Path, obj: Any, indent: int | None = 2) -> None:
    """Write ``obj`` as JSON atomically."""
    with atomic_write(path, "w") as handle:
        json.dump(obj, handle, indent=indent, sort_keys=False)
        handle.write("\n")


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` atomically."""
    with atomic_write(path, "w") as handle:
        handle.write(text)


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]], sort_keys: bool = False) -> None:
    """One JSON object per line (UTF-8, not ASCII-escaped), written atomically."""
    with atomic_write(path, "w") as handle:
        handle.writelines(json.dumps(row, ensure_ascii=False, sort_keys=sort_keys) + "\n" for row in rows)


def read_jsonl(path: str | Path, missing_ok: bool = False) -> list[dict[str, Any]]:
    """The objects of a JSON-lines file (blank lines skipped); ``missing_ok``: [] for a missing file."""
    path = Path(path)
    if missing_ok and not path.is_file():
        return []
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
