"""Server-side URL fetch for ``image_url`` / ``url`` queries: off unless hosts are allowed, capped in size and time.

Only ``http``/``https`` URLs whose host (or ``host:port``) is on the allow-list are fetched; redirects are not
followed (a redirect could leave the list); the body is read in chunks and abandoned past the byte cap.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx

from languagebind.serve.errors import ApiError


def check_url(url: str, allowed: tuple[str, ...]) -> str:
    """``url`` when its scheme is http(s) and its host is allowed, else 400 (403 when fetching is off)."""
    if not allowed:
        raise ApiError(403, "URL queries are off on this server (the operator can allow hosts with --allow-url-host)")
    try:
        parts = urlsplit(url)
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        raise ApiError(400, "not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ApiError(400, "only http:// and https:// URLs are fetched")
    if parts.username or parts.password:
        raise ApiError(400, "URLs with credentials are not fetched")
    names = {host, f"{host}:{port}"} if port else {host}
    if not names & {a.lower() for a in allowed}:
        raise ApiError(403, f"host {host!r} is not on this server's URL allow-list")
    return url


async def fetch_url(url: str, allowed: tuple[str, ...], max_bytes: int, timeout: float) -> bytes:
    """The body of ``url`` (allowed host, at most ``max_bytes``, within ``timeout`` seconds in all)."""
    check_url(url, allowed)
    try:
        return await asyncio.wait_for(_download(url, max_bytes, timeout), timeout)
    except asyncio.TimeoutError:
        raise ApiError(504, f"fetching the URL took longer than {timeout:g} s") from None
    except httpx.HTTPError as err:
        raise ApiError(502, f"fetching the URL failed: {type(err).__name__}") from None


async def _download(url: str, max_bytes: int, timeout: float) -> bytes:
    async with httpx.AsyncClient(follow_redirects=False, timeout=timeout, trust_env=False) as client, \
            client.stream("GET", url) as response:
        if response.is_redirect:
            raise ApiError(400, "the URL answered with a redirect; redirects are not followed")
        if response.status_code != 200:
            raise ApiError(502, f"the URL answered HTTP {response.status_code}")
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise ApiError(413, f"the URL's content is {int(declared)} bytes (limit {max_bytes})")
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise ApiError(413, f"the URL's content exceeds {max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
