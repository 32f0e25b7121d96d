"""A Hugging Face Hub cache built on disk as ``huggingface_hub`` writes it: ``models--ORG--NAME/blobs/<hash>``,
``snapshots/<commit>/<file>`` as relative symlinks to the blobs, ``refs/<branch>`` holding the commit."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path


def add_snapshot(cache: Path, repo_id: str, source: Path, commit: str, branch: str | None = "main",
                 files: list[str] | None = None) -> Path:
    """Copy ``source``'s files (or ``files`` of it) into ``cache`` as commit ``commit`` of ``repo_id``; point
    ``refs/<branch>`` at it. Returns the snapshot directory."""
    assert len(commit) == 40 and all(c in "0123456789abcdef" for c in commit)
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    for name in files if files is not None else sorted(p.name for p in source.iterdir() if p.is_file()):
        data = (source / name).read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()  # LFS blobs are named by their sha256
        if not blob.exists():
            shutil.copyfile(source / name, blob)
        link = snapshot / name
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(os.path.relpath(blob, snapshot), link)
    if branch is not None:
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / branch).write_text(commit)
    return snapshot


def commit_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()
