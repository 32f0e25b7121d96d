"""The test index: in-memory embeddings and metadata rows built into a faiss index directory by the index
package's own builder (``build_index`` over ``ArraySource``s), opened with ``open_index``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from languagebind.index import ArraySource, BuildSettings, IndexStore, build_index, open_index


def build_store(out: Path, embeddings: dict[str, np.ndarray], files: dict[str, list[str]],
                captions: dict[str, list[str]]) -> Path:
    """``files``: each item's path as the index records it (relative to the collection root)."""
    sources = [ArraySource(m, emb, [{"path": str(p), "caption": c}
                                    for p, c in zip(files[m], captions[m], strict=True)])
               for m, emb in embeddings.items()]
    build_index(out, sources, BuildSettings())
    return out


def open_store(root: Path) -> IndexStore:
    return open_index(root, backend="faiss")
