"""The test index: in-memory embeddings and metadata rows built by the index package's own builders
(``build_index`` over ``ArraySource``s for faiss, ``upload`` for Qdrant's embedded mode), opened with ``open_index``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from languagebind.index import ArraySource, BuildSettings, IndexStore, build_index, open_index


def make_sources(embeddings: dict[str, np.ndarray], files: dict[str, list[str]],
                 captions: dict[str, list[str]]) -> list[ArraySource]:
    """``files``: each item's path as the index records it (relative to the collection root)."""
    return [ArraySource(m, emb, [{"path": str(p), "caption": c} for p, c in zip(files[m], captions[m], strict=True)])
            for m, emb in embeddings.items()]


def build_store(out: Path, embeddings: dict[str, np.ndarray], files: dict[str, list[str]],
                captions: dict[str, list[str]]) -> Path:
    build_index(out, make_sources(embeddings, files, captions), BuildSettings())
    return out


def build_qdrant(out: Path, sources: list[ArraySource]) -> Path:
    from languagebind.index.qdrant_store import upload

    upload(out, sources)
    return out


def open_store(root: Path, backend: str = "faiss") -> IndexStore:
    return open_index(root, backend=backend)
