"""The service without HTTP: queries -> embeddings (micro-batched) -> index searches -> results with metadata.

```python
service = Service(model, store, ServeConfig())
await service.start()
vector = await service.embed_part(Part(text="a dog"), files={})
hits = await service.search(vector, ["image", "audio"], k=10, filters=None)
```
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from languagebind.api import LanguageBind
from languagebind.errors import ConfigError, InputError
from languagebind.serve.batcher import MicroBatcher, Overloaded
from languagebind.serve.config import ServeConfig
from languagebind.serve.errors import ApiError, scrub
from languagebind.serve.media import Decoder
from languagebind.serve.metrics import Metrics
from languagebind.serve.previews import Preview, PreviewMaker, modality_kind
from languagebind.serve.urlfetch import fetch_url
from languagebind.utils.arithmetic import combine_embeddings

if TYPE_CHECKING:
    from languagebind.index import IndexStore

SOURCES = ("text", "data", "file", "url", "embedding", "id")
PRIVATE_FIELDS = ("path", "source")  # where the item lives on the server: not shown to clients


class _Input(BaseModel):
    """The fields naming one input (see ``Part``); also accepted at the top level of a request."""

    model_config = ConfigDict(extra="forbid")
    text: str | None = None
    data: str | None = None
    file: str | None = None
    url: str | None = None
    embedding: list[float] | None = None
    id: str | None = None
    modality: str | None = None

    def single(self) -> list[Part] | None:
        """The top-level input as a one-part query (``None`` when none is given)."""
        given = self.model_dump(include={*SOURCES, "modality"}, exclude_none=True)
        if not given:
            return None
        try:
            return [Part(**given)]
        except ValueError as err:
            raise ApiError(422, scrub(str(err).splitlines()[-1] if str(err) else "invalid input")) from None


class Part(_Input):
    """One input of a query: exactly one of ``text``, ``data`` (base64 file), ``file`` (multipart field name),
    ``url`` (allowed hosts only), ``embedding`` or ``id`` (an indexed item); ``modality``: the tower for a file
    (default: from the file's type); ``weight`` in the weighted sum (negative subtracts)."""

    weight: float = 1.0

    @model_validator(mode="after")
    def _one_source(self) -> Part:
        given = [name for name in SOURCES if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(SOURCES)} (got {', '.join(given) or 'none'})")
        if not math.isfinite(self.weight):
            raise ValueError("weight must be a finite number")
        return self

    @property
    def source(self) -> str:
        return next(name for name in SOURCES if getattr(self, name) is not None)


def _parts(single: list[Part] | None, several: list[Part] | None, name: str) -> list[Part]:
    if several is not None and single is not None:
        raise ApiError(422, f"give either '{name}' (a list of inputs) or one input at top level, not both")
    if several is None and single is None:
        raise ApiError(422, f"nothing to search with: give one of {', '.join(SOURCES)}, or '{name}'")
    return several if several is not None else single


class SearchRequest(_Input):
    """``POST /search``: one input (the ``Part`` fields at top level) or ``query``: several, weighted."""

    query: list[Part] | None = None
    target_modalities: list[str] | None = None
    k: int = 10
    filters: dict[str, Any] | None = None

    def parts(self) -> list[Part]:
        return _parts(self.single(), self.query, "query")


class EmbedRequest(_Input):
    """``POST /embed``: ``inputs`` (or one input at top level) -> one embedding each."""

    inputs: list[Part] | None = None

    def parts(self) -> list[Part]:
        return _parts(self.single(), self.inputs, "inputs")


class MetadataRequest(BaseModel):
    """``POST /metadata``: ``{"ids": [...]}`` (``indice_name``, sent by clip-retrieval clients, is accepted)."""

    model_config = ConfigDict(extra="ignore")
    ids: list[Any] = Field(default_factory=list)
    indice_name: str | None = None


class Service:
    """One model and one index behind the limits of ``config``; the HTTP routes call these methods."""

    def __init__(self, model: LanguageBind, store: IndexStore, config: ServeConfig | None = None,
                 metrics: Metrics | None = None) -> None:
        self.model = model
        self.store = store
        self.config = config or ServeConfig()
        self.metrics = metrics or Metrics()
        self.dim = int(store.dim)
        width = int(model.encode("text", ["warm-up"]).shape[1])  # also the first (slowest) forward pass
        if width != self.dim:
            raise ConfigError(f"the model embeds into {width} dimensions but the index holds {self.dim}")
        cfg = self.config
        self.decoder = Decoder(model, cfg.max_image_pixels, cfg.max_audio_seconds, cfg.max_video_seconds,
                               cfg.max_points)
        self.previews = PreviewMaker(cfg.preview_size, cfg.preview_seconds, cfg.max_image_pixels,
                                     max(cfg.max_audio_seconds, cfg.max_video_seconds), self.decoder.picture)
        self.batcher = MicroBatcher(self._run_batch, cfg.max_batch, cfg.max_wait_ms / 1000.0, cfg.queue_size,
                                    self.metrics)
        self.decode_limiter = anyio.CapacityLimiter(cfg.decode_threads)
        self.index_limiter = anyio.CapacityLimiter(4)
        self.ready = False

    # -- life ------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self.ready = True

    async def stop(self) -> None:
        """Refuse new work, finish what is queued, release the temporary folder."""
        self.ready = False
        await self.batcher.stop(timeout=self.config.request_timeout)
        self.decoder.close()

    @property
    def towers(self) -> list[str]:
        return ["text", *self.model.modalities]

    # -- the model -------------------------------------------------------------------------------------
    def _run_batch(self, modality: str, payloads: Sequence[Any]) -> np.ndarray:
        start = time.perf_counter()
        if modality == "text":
            out = self.model.encode("text", list(payloads), batch_size=len(payloads))
        else:
            out = self.model.encode(modality, torch.stack(list(payloads)), batch_size=len(payloads))
        self.metrics.encode_seconds.labels(modality).observe(time.perf_counter() - start)
        return out.numpy().astype(np.float32, copy=False)

    async def _encode(self, modality: str, payload: Any) -> np.ndarray:
        try:
            return await self.batcher.submit(modality, payload)
        except Overloaded as err:
            self.metrics.rejected.labels("queue_full").inc()
            raise ApiError(503, str(err), {"Retry-After": "1"}) from None

    async def _encode_bytes(self, data: bytes, modality: str | None, what: str) -> tuple[str, np.ndarray]:
        if len(data) > self.config.max_request_bytes:
            raise ApiError(413, f"{what} is larger than {self.config.max_request_bytes} bytes")
        tower = self.decoder.tower_for(data, modality)
        tensor = await anyio.to_thread.run_sync(self.decoder.decode, tower, data, limiter=self.decode_limiter)
        return tower, await self._encode(tower, tensor)

    async def embed_part(self, part: Part, files: Mapping[str, bytes]) -> tuple[str, np.ndarray]:
        """One input -> (the modality it was embedded as, its L2-normalised embedding)."""
        source = part.source
        if source == "text":
            text = part.text.strip()
            if not text:
                raise ApiError(422, "text is empty")
            if len(text) > self.config.max_text_chars:
                raise ApiError(413, f"text longer than {self.config.max_text_chars} characters")
            return "text", await self._encode("text", text)
        if source == "embedding":
            return part.modality or "embedding", self._check_embedding(part.embedding)
        if source == "id":
            return await self._embed_item(part.id)
        if source == "data":
            try:
                data = base64.b64decode(part.data, validate=True)
            except (binascii.Error, ValueError):
                raise ApiError(400, "'data' is not valid base64") from None
            return await self._encode_bytes(data, part.modality, "the upload")
        if source == "file":
            if part.file not in files:
                raise ApiError(422, f"no uploaded file field named {part.file[:64]!r}")
            return await self._encode_bytes(files[part.file], part.modality, "the upload")
        data = await fetch_url(part.url, self.config.allow_url_hosts, self.config.max_request_bytes,
                               self.config.url_timeout)
        return await self._encode_bytes(data, part.modality, "the URL's content")

    def _check_embedding(self, values: Sequence[float]) -> np.ndarray:
        vector = np.asarray(values, dtype=np.float64)
        if vector.shape != (self.dim,):
            raise ApiError(422, f"embedding has {vector.size} values; this index holds {self.dim}-d vectors")
        if not np.isfinite(vector).all():
            raise ApiError(422, "embedding contains NaN or infinity")
        norm = float(np.linalg.norm(vector))
        if norm < 1e-12:
            raise ApiError(422, "embedding is all zeros")
        return (vector / norm).astype(np.float32)

    async def _embed_item(self, item_id: str) -> tuple[str, np.ndarray]:
        """An indexed item's vector: the index's own copy when the backend keeps one, else the item re-encoded
        from the file the index names (with that modality's tower)."""
        meta = await self.metadata_of(item_id)
        modality = str(meta.get("modality", ""))
        vectors = getattr(self.store, "vectors", None)
        if callable(vectors):
            vector = await anyio.to_thread.run_sync(vectors, [item_id], limiter=self.index_limiter)
            return modality, self._check_embedding(np.asarray(vector)[0])
        path = self.item_path(meta)
        if modality not in self.model.modalities or path is None:
            raise ApiError(400, f"item {item_id!r}: no {modality} tower is loaded to embed it")
        data = await anyio.to_thread.run_sync(path.read_bytes, limiter=self.decode_limiter)
        return await self._encode_bytes(data, modality, f"item {item_id!r}")

    # -- the index -------------------------------------------------------------------------------------
    def check_targets(self, targets: Sequence[str] | None) -> list[str]:
        if targets is None or len(targets) == 0:
            return list(self.store.modalities)
        unknown = [t for t in targets if t not in self.store.modalities]
        if unknown:
            raise ApiError(404, f"no index named {str(unknown[0])[:64]!r}; indexes: {', '.join(self.store.modalities)}")
        return list(dict.fromkeys(targets))

    def check_k(self, k: int) -> int:
        if not 1 <= k <= self.config.max_k:
            raise ApiError(422, f"k must be between 1 and {self.config.max_k}, got {k}")
        return k

    def combine(self, vectors: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
        """Embedding arithmetic (``utils.arithmetic``): each vector normalised, weighted sum, renormalised."""
        parts = {f"part {i + 1}": torch.as_tensor(np.asarray(v, dtype=np.float32)) for i, v in enumerate(vectors)}
        try:
            combined = combine_embeddings(parts, dict(zip(parts, weights, strict=True)))
        except InputError as err:
            raise ApiError(422, f"cannot combine the query: {scrub(err.reason)}") from None
        return combined[0].numpy()

    async def search(self, query: np.ndarray, targets: Sequence[str], k: int,
                     filters: Mapping[str, Any] | None) -> dict[str, list[dict[str, Any]]]:
        """Top ``k`` of each target index, with each hit's metadata."""
        results: dict[str, list[Any]] = {}
        for target in targets:
            try:
                found = await anyio.to_thread.run_sync(self.store.search, target, query[None], k, filters,
                                                       limiter=self.index_limiter)
            except InputError as err:
                raise ApiError(400, f"search in {target}: {_reason(err)}") from None
            results[target] = found[0]
        ids = [hit.id for hits in results.values() for hit in hits]
        metas = iter(await self.metadata(ids)) if ids else iter(())
        return {target: [{"id": hit.id, "score": round(float(hit.score), 6), "modality": hit.modality,
                          "metadata": next(metas)} for hit in hits] for target, hits in results.items()}

    async def metadata(self, ids: Sequence[Any]) -> list[dict[str, Any] | None]:
        """Client-facing metadata of ``ids`` (``None`` for unknown ids); malformed ids -> 400."""
        if len(ids) > self.config.max_ids:
            raise ApiError(413, f"at most {self.config.max_ids} ids per request")
        try:
            rows = await anyio.to_thread.run_sync(self.store.metadata, list(ids), limiter=self.index_limiter)
        except InputError as err:
            raise ApiError(400, _reason(err)) from None
        return [None if row is None else self.public(row) for row in rows]

    async def metadata_of(self, item_id: str) -> dict[str, Any]:
        """The full (server-side) metadata row of one id: 400 malformed, 404 unknown."""
        try:
            rows = await anyio.to_thread.run_sync(self.store.metadata, [item_id], limiter=self.index_limiter)
        except InputError as err:
            raise ApiError(400, _reason(err)) from None
        if rows[0] is None:
            raise ApiError(404, f"no item {item_id[:64]!r} in this index")
        return rows[0]

    @staticmethod
    def public(row: Mapping[str, Any]) -> dict[str, Any]:
        """A metadata row as clients see it: the file's name instead of where it lives on the server."""
        out = {k: _plain(v) for k, v in row.items() if k not in PRIVATE_FIELDS}
        if row.get("path"):
            out["name"] = Path(str(row["path"])).name
        return out

    def item_path(self, row: Mapping[str, Any]) -> Path | None:
        """Where the item's file is: the index's ``path``, a relative one under one of the media roots (and never
        outside it); ``None`` when there is no such file."""
        raw = row.get("path")
        if not raw:
            return None
        path = Path(str(raw))
        if path.is_absolute():
            return path if path.is_file() else None
        for root in self.config.media_roots:
            base = Path(root).resolve()
            candidate = (base / path).resolve()
            if candidate.is_relative_to(base) and candidate.is_file():
                return candidate
        return None

    async def preview(self, item_id: str) -> Preview:
        meta = await self.metadata_of(item_id)
        path = self.item_path(meta)
        if path is None:
            raise ApiError(404, f"item {item_id[:64]!r} has no file to preview")
        try:
            return await anyio.to_thread.run_sync(self.previews.get, item_id, str(meta.get("modality", "")), path,
                                                  limiter=self.decode_limiter)
        except InputError as err:
            raise ApiError(422, f"no preview of {item_id[:64]!r}: {scrub(err.reason)}") from None

    def describe(self) -> dict[str, Any]:
        """``GET /indices``: dimensions, towers, and per index its size, preview kind and filterable fields."""
        described = self.store.describe()
        indices = {}
        for m in self.store.modalities:
            entry = {k: _plain(v) for k, v in described.get(m, {}).items()}
            entry.update(count=int(self.store.count(m)), kind=modality_kind(m), fields=list(self.store.fields(m)))
            indices[m] = entry
        accepts = {m: list(self.decoder.accepts(m) or ["any"]) for m in self.model.modalities}
        return {"dim": self.dim, "backend": getattr(self.store, "backend", ""), "towers": self.towers,
                "accepts": accepts, "guesses": self.decoder.guesses(), "indices": indices,
                "limits": {"max_k": self.config.max_k, "max_request_bytes": self.config.max_request_bytes,
                           "max_query_parts": self.config.max_query_parts,
                           "url_queries": bool(self.config.allow_url_hosts)}}

    async def with_timeout(self, work: Any) -> Any:
        try:
            return await asyncio.wait_for(work, self.config.request_timeout)
        except asyncio.TimeoutError:
            self.metrics.rejected.labels("timeout").inc()
            raise ApiError(504, f"the request took longer than {self.config.request_timeout:g} s") from None


def _reason(err: InputError) -> str:
    """An index's ``InputError`` about a client's value: what (the value, cut short) and why."""
    what = scrub(err.item)[:80] if isinstance(err.item, str) else ""
    return f"{what}: {scrub(err.reason)}" if what else scrub(err.reason)


def _plain(value: Any) -> Any:
    """numpy / bytes values (also inside lists and dicts) -> JSON-ready Python values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
