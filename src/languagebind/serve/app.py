"""The FastAPI application: our API, clip-retrieval's ``clip back`` API, the page, health and metrics.

```python
app = create_app(Service(model, store, ServeConfig(token="...")))
uvicorn.run(app, host="127.0.0.1", port=8000)
```
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from languagebind.serve.errors import ApiError, install_error_handlers, scrub
from languagebind.serve.middleware import ServiceMiddleware
from languagebind.serve.service import EmbedRequest, MetadataRequest, Part, SearchRequest, Service

OPEN_PATHS = {"/", "/healthz"}  # GET without a token: the page (no data in it) and the health probe
ROUTES = {"/", "/search", "/embed", "/metadata", "/indices", "/healthz", "/metrics", "/preview", "/knn-service",
          "/indices-list"}


def page_html() -> str:
    return resources.files("languagebind.serve").joinpath("static/index.html").read_text(encoding="utf-8")


def create_app(service: Service) -> FastAPI:
    """The ASGI app serving ``service`` (its start and stop run with the app's lifespan)."""
    config = service.config

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(title="languagebind", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    install_error_handlers(app)
    if config.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"], allow_credentials=False)
    app.add_middleware(ServiceMiddleware, metrics=service.metrics, routes=ROUTES, max_body=config.max_request_bytes,
                       token=config.token, open_paths=OPEN_PATHS, rate=config.rate_limit, burst=config.rate_burst)
    page = page_html()

    async def parse(request: Request, model: type[BaseModel], list_key: str = "query"
                    ) -> tuple[Any, dict[str, bytes]]:
        """A JSON body, or a multipart form (a ``query`` JSON field, simple fields, and files)."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        files: dict[str, bytes] = {}
        if kind == "multipart/form-data":
            async with request.form(max_files=config.max_query_parts, max_fields=32,
                                    max_part_size=config.max_request_bytes) as form:
                fields: dict[str, Any] = {}
                for name, value in form.multi_items():
                    if isinstance(value, UploadFile):
                        files[name] = await value.read()
                    else:
                        fields[name] = value
            raw = _form_request(fields, files, list_key)
        elif kind in ("application/json", "") or kind.endswith("+json"):
            body = await request.body()
            try:
                raw = json.loads(body or b"null")
            except (ValueError, UnicodeDecodeError) as err:
                raise ApiError(400, f"invalid JSON body: {scrub(str(err))}") from None
        else:
            raise ApiError(415, "send application/json or multipart/form-data")
        if not isinstance(raw, dict):
            raise ApiError(422, "the body must be a JSON object")
        try:
            return model.model_validate(raw), files
        except ValidationError as err:
            problems = [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in err.errors()[:5]]
            raise ApiError(422, scrub("; ".join(problems))) from None

    async def embed_parts(parts: list[Part], files: dict[str, bytes]) -> list[tuple[str, Any]]:
        if len(parts) > config.max_query_parts:
            raise ApiError(413, f"at most {config.max_query_parts} inputs per request")
        return list(await asyncio.gather(*(service.embed_part(p, files) for p in parts)))

    @app.get("/", include_in_schema=False)
    async def index_page() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    @app.post("/search")
    async def search(request: Request) -> JSONResponse:
        start = time.perf_counter()
        body, files = await parse(request, SearchRequest)
        parts = body.parts()
        targets = service.check_targets(body.target_modalities)
        k = service.check_k(body.k)

        async def work() -> dict[str, Any]:
            embedded = await embed_parts(parts, files)
            query = service.combine([v for _, v in embedded], [p.weight for p in parts])
            results = await service.search(query, targets, k, body.filters)
            return {"results": results,
                    "query": [{"source": p.source, "modality": m, "weight": p.weight}
                              for p, (m, _) in zip(parts, embedded, strict=True)],
                    "took_ms": round(1000 * (time.perf_counter() - start), 2)}

        return JSONResponse(await service.with_timeout(work()))

    @app.post("/embed")
    async def embed(request: Request) -> JSONResponse:
        body, files = await parse(request, EmbedRequest, "inputs")
        embedded = await service.with_timeout(embed_parts(body.parts(), files))
        return JSONResponse({"dim": service.dim, "embeddings": [{"modality": m, "embedding": v.tolist()}
                                                                 for m, v in embedded]})

    @app.post("/metadata")
    async def metadata(request: Request) -> JSONResponse:
        body, _ = await parse(request, MetadataRequest)
        metas = await service.with_timeout(service.metadata(body.ids))
        return JSONResponse([{"id": i, "metadata": m} for i, m in zip(body.ids, metas, strict=True)])

    @app.get("/indices")
    async def indices() -> JSONResponse:
        return JSONResponse(service.describe())

    @app.get("/indices-list")
    async def indices_list() -> JSONResponse:
        return JSONResponse(list(service.store.modalities))

    @app.get("/preview")
    async def preview(id: str) -> Response:
        found = await service.with_timeout(service.preview(id))
        return Response(found.body, media_type=found.media_type, headers={"Cache-Control": "private, max-age=3600"})

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        ready = service.ready and service.batcher.accepting
        return JSONResponse({"live": True, "ready": ready, "towers": service.towers,
                             "indices": list(service.store.modalities)}, status_code=200 if ready else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(service.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.post("/knn-service")
    async def knn_service(request: Request) -> JSONResponse:
        body, _ = await parse(request, KnnRequest)
        target = body.target(service)
        k = service.check_k(body.num_result_ids or body.num_images)
        part = body.part(service)

        async def work() -> list[dict[str, Any]]:
            _, vector = await service.embed_part(part, {})
            found = (await service.search(service.combine([vector], [1.0]), [target], k, None))[target]
            base = str(request.base_url).rstrip("/")
            return [_clip_result(hit, base) for hit in found]

        return JSONResponse(await service.with_timeout(work()))

    return app


class KnnRequest(BaseModel):
    """clip-retrieval's ``/knn-service`` body. ``indice_name`` names one of our indexes (default: the first);
    ``modality`` is clip back's choice of index within it: "image" searches ``indice_name`` itself, "text" the
    ``text`` index (when there is one), any of our index names that index. ``image`` is a base64 file, embedded
    by the tower ``query_modality`` names (ours; default the image tower). Dedup, safety, violence, aesthetic
    and mclip options are accepted and have no effect."""

    text: str | None = None
    image: str | None = None
    image_url: str | None = None
    embedding_input: list[float] | None = None
    modality: str = "image"
    num_images: int = 40
    num_result_ids: int | None = None
    indice_name: str | None = None
    query_modality: str | None = None
    deduplicate: Any = None
    use_safety_model: Any = None
    use_violence_detector: Any = None
    use_mclip: Any = None
    aesthetic_score: Any = None
    aesthetic_weight: Any = None

    def target(self, service: Service) -> str:
        names = list(service.store.modalities)
        base = self.indice_name if self.indice_name is not None else names[0]
        if base not in names:
            raise ApiError(404, f"no index named {base[:64]!r}; indexes: {', '.join(names)}")
        if self.modality == "image":
            return base
        if self.modality in names:
            return self.modality
        raise ApiError(400, f"modality {self.modality[:32]!r}: this server has no such index (image searches "
                            f"indice_name; or name one of: {', '.join(names)})")

    def part(self, service: Service) -> Part:
        if self.text:
            return Part(text=self.text)
        if self.image:
            tower = self.query_modality or ("image" if "image" in service.model.modalities else None)
            return Part(data=self.image, modality=tower)
        if self.image_url:
            tower = self.query_modality or ("image" if "image" in service.model.modalities else None)
            return Part(url=self.image_url, modality=tower)
        if self.embedding_input is not None:
            return Part(embedding=self.embedding_input)
        raise ApiError(422, "give one of text, image, image_url, embedding_input")


def _clip_result(hit: dict[str, Any], base: str) -> dict[str, Any]:
    """One hit in clip back's shape: metadata fields, ``id``, ``similarity``, ``caption``, ``url``."""
    from urllib.parse import quote

    out = dict(hit.get("metadata") or {})
    out.setdefault("caption", out.get("caption") or out.get("text") or out.get("name") or "")
    out.setdefault("url", f"{base}/preview?id={quote(hit['id'], safe='')}")
    out["id"] = hit["id"]
    out["similarity"] = hit["score"]
    out["modality"] = hit["modality"]
    return out


def _form_request(fields: dict[str, Any], files: dict[str, bytes], list_key: str) -> dict[str, Any]:
    """A multipart form -> the JSON request: a ``request`` field holding the JSON body, or simple fields; files
    are named by their field; with no input named, the one file is the input (several: all, weight 1 each)."""
    if "request" in fields:
        try:
            raw = json.loads(fields.pop("request"))
        except ValueError as err:
            raise ApiError(400, f"the 'request' form field is not valid JSON: {scrub(str(err))}") from None
        if not isinstance(raw, dict):
            raise ApiError(422, "the 'request' form field must be a JSON object")
    else:
        raw = {}
    for name, value in fields.items():
        if name == "k":
            raw["k"] = int(value) if str(value).strip().lstrip("-").isdigit() else value
        elif name in ("target_modalities", "targets"):
            raw["target_modalities"] = [t.strip() for t in str(value).split(",") if t.strip()]
        else:
            raw[name] = value
    if files and not any(key in raw for key in (list_key, "file", "text", "data", "url", "id", "embedding")):
        if len(files) == 1:
            raw["file"] = next(iter(files))
        else:
            raw[list_key] = [{"file": name} for name in files]
    return raw
