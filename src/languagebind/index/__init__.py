"""Vector indexes over embedded collections: build, add, load and query, on faiss (embedded) or Qdrant.

Query API (the same for every backend; the HTTP service is written against it)::

    from languagebind.index import open_index, IndexStore, Hit

    store = open_index("photos.index")                      # faiss: an index directory (`languagebind index build`)
    store = open_index("http://qdrant:6333", backend="qdrant", collection="photos")   # or path=DIR / ":memory:"
    store.modalities                # ["image", "audio", ...]: one index per modality, all in one embedding space
    store.dim                       # embedding size
    store.count("image")            # items in that index
    store.fields("image")           # metadata fields, all filterable: id, modality, path, source, + collection's
    hits = store.search("image", queries, k=10, filters={"category": ["dog", "cat"], "split": "test"})
    # queries: (n, dim) float32, L2-normalised rows -> n lists of Hit(id, score, modality), best first
    store.metadata(["image:12", "audio:3"])  # -> [{"id": ..., "path": ..., "caption": ...}, None]
    store.describe()                # per modality: count, index type, search settings, tuned recall
    store.close()                   # also a context manager

- Ids are opaque strings chosen by the index, ``"<modality>:<row>"``, stable across ``index add``. Every id a
  caller passes is checked against that grammar first (``languagebind.index.base.parse_id``): a malformed id
  raises ``InputError``; a well-formed id that is not in the index gives ``None`` from ``metadata``.
- ``search`` raises ``InputError`` (a ``ValueError``) for an unknown modality, ``k`` not in 1..``MAX_K``, queries
  of the wrong shape / dtype / norm or more than ``MAX_QUERIES``, and filters on unknown fields or with bad values.
  ``k`` larger than the index (or than the items matching the filters) returns all of them.
- Filters: ``{field: value}`` is an exact match, ``{field: [v1, v2]}`` is "one of" (in-list); several fields are
  ANDed. They apply to scalar fields (strings, numbers, booleans). A filtered search returns ``k`` results whenever
  at least ``k`` items match (see ``languagebind.index.faiss_store`` for how).
- Scores are inner products of L2-normalised vectors (cosine similarity); exact for ``flat`` indexes.
- Thread-safe for concurrent ``search`` / ``metadata`` calls.

Building: ``build_index`` / ``add_to_index`` (``languagebind.index.build``) from ``CollectionSource`` (the shards of
``languagebind embed DIR --out OUT``) or ``ArraySource`` (arrays in memory); the index type is chosen under a memory
budget (``languagebind.index.choose``); ``languagebind index build|add|info|search`` on the command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from languagebind.errors import InputError
from languagebind.index.base import MAX_IDS, MAX_K, MAX_QUERIES, Hit, IndexStore, parse_id
from languagebind.index.build import BuildReport, BuildSettings, add_to_index, build_index
from languagebind.index.choose import parse_bytes
from languagebind.index.sources import ArraySource, CollectionSource, read_extra_metadata

BACKENDS = ("faiss", "qdrant")

__all__ = ["BACKENDS", "MAX_IDS", "MAX_K", "MAX_QUERIES", "ArraySource", "BuildReport", "BuildSettings",
           "CollectionSource", "Hit", "IndexStore", "add_to_index", "build_index", "open_index", "parse_bytes",
           "parse_id", "read_extra_metadata"]


def open_index(path_or_url: str | Path, backend: str = "faiss", **opts: Any) -> IndexStore:
    """Open an index for querying.

    ``backend="faiss"``: ``path_or_url`` is an index directory; ``mmap=False`` reads IVF-PQ lists into memory.
    ``backend="qdrant"``: ``path_or_url`` is a server URL (``http://host:6333``), a local directory (Qdrant's
    embedded mode) or ``":memory:"``; ``collection=`` names the Qdrant collection (default ``"languagebind"``);
    ``api_key=`` / ``timeout=`` go to the client."""
    if backend == "faiss":
        from languagebind.index.faiss_store import FaissIndex

        return FaissIndex(path_or_url, **opts)
    if backend == "qdrant":
        from languagebind.index.qdrant_store import QdrantIndex

        return QdrantIndex(path_or_url, **opts)
    raise InputError(f"backend {backend}", f"expected one of {', '.join(BACKENDS)}")
