"""On-disk embedding cache: a re-run, or a second benchmark over the same files, encodes nothing again.

Layout: ``<cache dir>/<checkpoint fingerprint>/<namespace>/shard-<hash>.npz``, each shard holding
``keys`` (hex strings) and ``embeddings`` (float32). A key hashes

* for files: the absolute path, size, mtime and ctime (ns) and inode (a rewritten or replaced file is a new
  key), the namespace (modality) and ``CACHE_VERSION``;
* for texts: the text itself.

The fingerprint (``LanguageBind.checkpoint_fingerprint``) covers the tower and text weights, the config
and the preprocessing version, so changing any of them starts a fresh cache. Shards are written
atomically.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from languagebind.processing.pointfiles import MEMBER_SEPARATOR, split_member
from languagebind.utils.io import atomic_write

CACHE_VERSION = "1"


def default_cache_dir() -> Path:
    """``$LANGUAGEBIND_CACHE/embeddings``, else ``$XDG_CACHE_HOME`` or ``~/.cache`` + ``/languagebind/embeddings``."""
    if os.environ.get("LANGUAGEBIND_CACHE"):
        return Path(os.environ["LANGUAGEBIND_CACHE"]) / "embeddings"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "languagebind" / "embeddings"


def item_file(path: Path) -> Path:
    """The file holding an item: the path itself, or the container of a member item (``batch.h5#12``)."""
    return split_member(path)[0]


def file_key(path: Path, namespace: str) -> str:
    """Cache key of a media file (or of a member item of a container file, ``batch.h5#12``): path, size, mtime,
    ctime, inode (of the container), namespace and cache version."""
    container, member = split_member(Path(path))
    path = container.resolve()
    stat = path.stat()
    name = f"{path}{MEMBER_SEPARATOR}{member}" if member is not None else str(path)
    raw = (f"{CACHE_VERSION}\0{namespace}\0{name}\0{stat.st_size}\0{stat.st_mtime_ns}\0{stat.st_ctime_ns}"
           f"\0{stat.st_ino}")
    return hashlib.sha256(raw.encode()).hexdigest()


def text_key(text: str) -> str:
    """Cache key of a text (the namespace directory already says it is text)."""
    return hashlib.sha256(f"{CACHE_VERSION}\0text\0{text}".encode()).hexdigest()


class EmbeddingCache:
    """Embeddings by key for one checkpoint fingerprint; ``None`` as the directory disables the disk.

    New embeddings are buffered and written as one shard per ``shard_rows`` rows (and by ``flush``), so a
    crash loses at most the unflushed rows.
    """

    def __init__(self, directory: Path | None, fingerprint: str, shard_rows: int = 4096) -> None:
        self.root = Path(directory) / fingerprint if directory is not None else None
        self.shard_rows = shard_rows
        self._loaded: dict[str, dict[str, np.ndarray]] = {}
        self._pending: dict[str, list[tuple[str, np.ndarray]]] = {}
        self.hits = 0
        self.writes = 0

    def _namespace(self, namespace: str) -> dict[str, np.ndarray]:
        if namespace not in self._loaded:
            table: dict[str, np.ndarray] = {}
            folder = self.root / namespace if self.root is not None else None
            if folder is not None and folder.is_dir():
                for shard in sorted(folder.glob("shard-*.npz")):
                    try:
                        with np.load(shard, allow_pickle=False) as data:
                            table.update(zip(data["keys"].tolist(), data["embeddings"], strict=True))
                    except (OSError, ValueError, KeyError):
                        continue  # an unreadable shard is only a cache miss
            self._loaded[namespace] = table
        return self._loaded[namespace]

    def get(self, namespace: str, keys: Sequence[str]) -> list[np.ndarray | None]:
        """The cached embedding of each key, or ``None``."""
        table = self._namespace(namespace)
        found = [table.get(k) for k in keys]
        self.hits += sum(v is not None for v in found)
        return found

    def put(self, namespace: str, keys: Sequence[str], embeddings: torch.Tensor | np.ndarray) -> None:
        """Remember ``embeddings`` (one row per key); they reach the disk with the next full shard or flush."""
        array = np.ascontiguousarray(torch.as_tensor(embeddings).float().cpu().numpy())
        if array.shape[0] != len(keys):
            raise ValueError(f"{len(keys)} keys but {array.shape[0]} embeddings")
        self._namespace(namespace).update(zip(keys, array, strict=True))
        if self.root is None:
            return
        pending = self._pending.setdefault(namespace, [])
        pending.extend(zip(keys, array, strict=True))
        if len(pending) >= self.shard_rows:
            self.flush()

    def flush(self) -> None:
        """Write the buffered embeddings of every namespace as new shards."""
        for namespace, rows in self._pending.items():
            if not rows or self.root is None:
                continue
            keys = [k for k, _ in rows]
            name = hashlib.sha256("".join(keys).encode()).hexdigest()[:24]
            with atomic_write(self.root / namespace / f"shard-{name}.npz") as handle:
                np.savez(handle, keys=np.array(keys), embeddings=np.stack([v for _, v in rows]))
            self.writes += 1
        self._pending.clear()
