"""An index directory: versions, the pointer to the current one, the build area and the writers' lock.

```
INDEX/CURRENT              the name of the current version ("v000002"), replaced atomically
INDEX/v000002/index.json   the manifest: format, dim, sources, per modality its count, segments and index
INDEX/v000002/<modality>/  seg-*.npy + seg-*.parquet (languagebind.index.segments), index.faiss unless exact
INDEX/build/               the unfinished work of a build or an add (resumed by the next run with the same plan)
INDEX/.lock                held (flock) by the one process building or adding
```
A build or an add writes a new version in ``build/``, renames it to ``v<n+1>`` and only then replaces ``CURRENT``:
a process killed at any moment (even with SIGKILL) leaves ``CURRENT`` naming a complete version. Readers open the
version ``CURRENT`` names; the previous version is kept until the next build so that a reader that opened it keeps
working. Unchanged segments are hard links shared between versions.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from languagebind.errors import InputError
from languagebind.utils.io import fsync_dir, write_text_atomic

FORMAT = "languagebind-index/1"
MANIFEST = "index.json"
CURRENT = "CURRENT"
BUILD = "build"
_VERSION = re.compile(r"v(\d{6})")


def current_version(root: Path) -> Path | None:
    """The directory of the current version, or None for a directory with no finished build yet."""
    pointer = root / CURRENT
    if not pointer.is_file():
        return None
    name = pointer.read_text().strip()
    if _VERSION.fullmatch(name) is None or not (root / name / MANIFEST).is_file():
        raise InputError(root, f"{CURRENT} names {name[:40]!r}, which is not a finished index version")
    return root / name


def read_manifest(version: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((version / MANIFEST).read_text())
    except (OSError, ValueError) as err:
        raise InputError(version, f"unreadable {MANIFEST} ({err})") from err
    if manifest.get("format") != FORMAT:
        raise InputError(version, f"not a {FORMAT} index (format {manifest.get('format')!r})")
    return manifest


def open_version(root: str | Path) -> tuple[Path, dict[str, Any]]:
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "no such index directory")
    version = current_version(root)
    if version is None:
        raise InputError(root, "not an index (no finished build: run `languagebind index build`)")
    return version, read_manifest(version)


def versions(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and _VERSION.fullmatch(p.name))


def next_version_name(root: Path) -> str:
    found = [int(_VERSION.fullmatch(p.name).group(1)) for p in versions(root)]  # type: ignore[union-attr]
    return f"v{max(found, default=0) + 1:06d}"


def publish(root: Path, build: Path) -> Path:
    """Make the finished ``build`` directory the current version (rename, then swap the pointer)."""
    name = next_version_name(root)
    target = root / name
    os.rename(build, target)
    fsync_dir(root)
    previous = current_version(root)
    write_text_atomic(root / CURRENT, name + "\n")
    for old in versions(root):  # keep the new version and the one readers may still have open
        if old not in (target, previous):
            shutil.rmtree(old, ignore_errors=True)
    return target


@contextlib.contextmanager
def writer_lock(root: Path) -> Iterator[None]:
    """One writer (build / add) per index directory at a time; a second one gets a clear error."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            raise InputError(root, "another build or add is running on this index") from err
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def link_or_copy(source: Path, target: Path) -> None:
    """Share an immutable file between versions (hard link; a copy where links are not possible)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
