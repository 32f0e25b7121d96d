"""Every failure leaves the service as JSON ``{"error": reason, "status": code}``: never a traceback, never a path."""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from languagebind.errors import InputError

LOG = logging.getLogger("languagebind.serve")
# absolute POSIX / Windows paths inside a message (a decoder may name the temporary file it read)
_PATH = re.compile(r"(?:[A-Za-z]:)?[\\/](?:[^\s'\"\\/:]+[\\/])+[^\s'\",:)]*")


class ApiError(Exception):
    """An answer other than 2xx: ``status`` and a reason in plain words (safe to show the client)."""

    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or {}


def scrub(text: str) -> str:
    """``text`` without file-system paths (replaced by ``<file>``), one line, at most 500 characters."""
    text = _PATH.sub("<file>", " ".join(str(text).split()))
    return text if len(text) <= 500 else text[:497] + "..."


def input_error(err: InputError, what: str) -> ApiError:
    """A decoder's ``InputError`` on a client's input -> 400 naming the input as the client knows it."""
    return ApiError(400, f"{what}: {scrub(err.reason)}")


def error_response(status: int, reason: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": reason, "status": status}, status_code=status, headers=headers)


def _validation_reason(err: RequestValidationError) -> tuple[int, str]:
    problems = []
    for item in err.errors():
        if item.get("type") == "json_invalid":
            return 400, f"invalid JSON body: {scrub(item.get('ctx', {}).get('error', item.get('msg', '')))}"
        where = ".".join(str(p) for p in item.get("loc", ()) if p != "body") or "body"
        problems.append(f"{where}: {scrub(item.get('msg', 'invalid'))}")
    return 422, "; ".join(problems[:5]) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    """JSON errors for our own failures, validation, unknown routes and anything unexpected."""

    @app.exception_handler(ApiError)
    async def _api(request: Request, err: ApiError) -> JSONResponse:
        return error_response(err.status, err.reason, err.headers)

    @app.exception_handler(InputError)
    async def _input(request: Request, err: InputError) -> JSONResponse:
        return error_response(400, scrub(err.reason))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, err: RequestValidationError) -> JSONResponse:
        status, reason = _validation_reason(err)
        return error_response(status, reason)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, err: StarletteHTTPException) -> JSONResponse:
        reason = {404: "no such endpoint", 405: "method not allowed on this endpoint"}.get(err.status_code)
        return error_response(err.status_code, reason or scrub(str(err.detail)), getattr(err, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, err: Exception) -> JSONResponse:
        LOG.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal error (logged on the server)")
