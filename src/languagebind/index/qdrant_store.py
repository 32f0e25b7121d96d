"""The scale-out backend: the same index API on Qdrant (a server, or qdrant-client's embedded local mode).

One Qdrant collection holds every modality: one named vector per modality (cosine), each point carrying the
vector of its own modality and its metadata row as payload (``id``, ``modality``, ``path``, ``source`` and the
collection's fields). Point ids are UUID-5 of our ids (``"<modality>:<row>"``), so ``metadata`` is a retrieve by
id. The collection's own metadata holds the manifest (dimension, per-modality counts and fields). Filters become
payload filters (exact match / one of, ANDed over fields), evaluated by Qdrant during the search, so a filtered
search returns ``k`` results whenever ``k`` items match. ``url`` is ``http(s)://host:port`` for a server, a
directory for the embedded local mode, or ``":memory:"``: the same client code path in every case.
"""

from __future__ import annotations

import threading
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from languagebind.errors import InputError
from languagebind.index.base import FilterValue, Hit, IndexStore, make_id
from languagebind.index.layout import FORMAT
from languagebind.index.sources import Source

DEFAULT_COLLECTION = "languagebind"
NAMESPACE = uuid.UUID("6f1b1b4e-3c1e-5b8a-9d0e-6c616e676269")
UPLOAD_BATCH = 512


def point_id(item_id: str) -> str:
    return str(uuid.uuid5(NAMESPACE, item_id))


def connect(url: str | Path, api_key: str | None = None, timeout: float | None = None) -> Any:
    from qdrant_client import QdrantClient

    text = str(url)
    if text == ":memory:":
        return QdrantClient(location=":memory:")
    if text.startswith(("http://", "https://")):
        return QdrantClient(url=text, api_key=api_key, timeout=int(timeout) if timeout else None)
    return QdrantClient(path=text)


def _condition(field: str, value: FilterValue) -> Any:
    from qdrant_client import models

    if isinstance(value, float) and not value.is_integer():
        return models.FieldCondition(key=field, range=models.Range(gte=value, lte=value))
    if isinstance(value, float):
        value = int(value)
    return models.FieldCondition(key=field, match=models.MatchValue(value=value))


def payload_filter(modality: str, filters: dict[str, list[FilterValue]]) -> Any:
    from qdrant_client import models

    must: list[Any] = [models.FieldCondition(key="modality", match=models.MatchValue(value=modality))]
    for field, values in filters.items():
        must.append(models.Filter(should=[_condition(field, v) for v in values]))
    return models.Filter(must=must)


class QdrantIndex(IndexStore):
    """``open_index(url, backend="qdrant", collection=...)``."""

    backend = "qdrant"

    def __init__(self, url: str | Path, collection: str = DEFAULT_COLLECTION, api_key: str | None = None,
                 timeout: float | None = None, client: Any = None) -> None:
        self.client = client if client is not None else connect(url, api_key, timeout)
        self.collection = collection
        self._lock = threading.Lock()
        if not self.client.collection_exists(collection):
            raise InputError(collection, f"no such Qdrant collection at {url}")
        self.refresh()

    def refresh(self) -> None:
        """Read the manifest again (after an ``add`` by another process)."""
        manifest = self.client.get_collection(self.collection).config.metadata or {}
        if manifest.get("format") != FORMAT:
            raise InputError(self.collection, "not a languagebind index collection (no manifest in its metadata)")
        self.manifest = manifest

    @property
    def modalities(self) -> list[str]:
        return list(self.manifest["modalities"])

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    def count(self, modality: str) -> int:
        return int(self.manifest["modalities"][self.check_modality(modality)]["count"])

    def fields(self, modality: str) -> list[str]:
        return list(self.manifest["modalities"][self.check_modality(modality)]["fields"])

    def describe(self) -> dict[str, Any]:
        return {m: {"count": self.count(m), "index": "qdrant", "collection": self.collection}
                for m in self.modalities}

    def _search(self, modality: str, queries: np.ndarray, k: int,
                filters: dict[str, list[FilterValue]]) -> list[list[Hit]]:
        from qdrant_client import models

        if k == 0:
            return [[] for _ in queries]
        condition = payload_filter(modality, filters)
        requests = [models.QueryRequest(query=q.tolist(), using=modality, limit=k, filter=condition,
                                        with_payload=models.PayloadSelectorInclude(include=["id"]))
                    for q in queries]
        with self._lock:
            responses = self.client.query_batch_points(self.collection, requests=requests)
        return [[Hit(str(p.payload["id"]), float(p.score), modality) for p in response.points]
                for response in responses]

    def _metadata(self, rows: list[tuple[str, int]]) -> list[dict[str, Any] | None]:
        ids = [make_id(m, r) for m, r in rows]
        with self._lock:
            points = self.client.retrieve(self.collection, ids=[point_id(i) for i in ids], with_payload=True,
                                          with_vectors=False)
        by_id = {str(p.payload.get("id")): dict(p.payload) for p in points}
        return [by_id.get(i) for i in ids]

    def close(self) -> None:
        self.client.close()


def upload(url: str | Path, sources: Sequence[Source], collection: str = DEFAULT_COLLECTION, add: bool = False,
           api_key: str | None = None, client: Any = None, log: Any = None) -> dict[str, Any]:
    """Build (``add=False``: the collection is created anew) or extend a Qdrant index from ``sources``; returns
    the manifest. Rows are numbered per modality after the existing ones, as in the faiss backend."""
    from qdrant_client import models

    say = log or (lambda _: None)
    client = client if client is not None else connect(url, api_key)
    if not sources:
        raise InputError(collection, "nothing to index (no sources)")
    dims = {s.dim for s in sources}
    exists = client.collection_exists(collection)
    if add and not exists:
        raise InputError(collection, "no Qdrant index to add to (build it first)")
    manifest = client.get_collection(collection).config.metadata if add else None
    if add and (not manifest or manifest.get("format") != FORMAT):
        raise InputError(collection, "not a languagebind index collection")
    if manifest:
        dims.add(int(manifest["dim"]))
    if len(dims) != 1:
        raise InputError(collection, f"sources have different embedding sizes {sorted(dims)}")
    dim = dims.pop()
    modalities = list(dict.fromkeys(s.modality for s in sources))
    if manifest:
        new = [m for m in modalities if m not in manifest["modalities"]]
        if new:
            raise InputError(collection, f"cannot add the new modalities {new} to an existing Qdrant collection "
                                         "(named vectors are fixed at creation); build it again with all of them")
    else:
        manifest = {"format": FORMAT, "dim": dim, "modalities": {}, "sources": []}
        if exists:
            client.delete_collection(collection)
        client.create_collection(collection, vectors_config={
            m: models.VectorParams(size=dim, distance=models.Distance.COSINE) for m in modalities})
        with warnings.catch_warnings():  # the embedded local mode has no payload indexes and says so
            warnings.simplefilter("ignore", UserWarning)
            client.create_payload_index(collection, "modality", models.PayloadSchemaType.KEYWORD)
    first_source = len(manifest["sources"])
    for number, source in enumerate(sources, first_source):
        entry = manifest["modalities"].setdefault(source.modality, {"count": 0, "fields": ["id", "modality", "path",
                                                                                           "source"]})
        row = int(entry["count"])
        for metadata, block in source.blocks():
            points = []
            for meta, vector in zip(metadata, np.asarray(block, dtype=np.float32), strict=True):
                item = make_id(source.modality, row)
                payload = {"id": item, "modality": source.modality, "path": meta["path"], "source": number,
                           **{k: v for k, v in meta.items() if k != "path"}}
                for key in payload:
                    if key not in entry["fields"]:
                        entry["fields"].append(key)
                points.append(models.PointStruct(id=point_id(item), vector={source.modality: vector.tolist()},
                                                 payload=payload))
                row += 1
            for i in range(0, len(points), UPLOAD_BATCH):
                client.upsert(collection, points=points[i:i + UPLOAD_BATCH], wait=True)
        entry["count"] = row
        manifest["sources"].append({**source.signature(), "root": source.root})
        say(f"{source.modality}: {row} items in Qdrant collection {collection}")
    client.update_collection(collection, metadata=manifest)
    return manifest
