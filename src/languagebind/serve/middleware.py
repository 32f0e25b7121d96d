"""The ASGI layers in front of every route: metrics, body cap, per-client rate limit, bearer token, headers.

Each layer answers a refused request itself with the service's JSON error shape, before any work is done.
"""

from __future__ import annotations

import hmac
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException

from languagebind.serve.errors import error_response
from languagebind.serve.metrics import Metrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Content-Security-Policy of everything we serve: our own origin only (the page is self-contained).
CSP = ("default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; base-uri 'none'; "
       "form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"), (b"content-security-policy", CSP.encode())]


class BodyTooLarge(StarletteHTTPException):
    """Raised while the body is read (the framework passes HTTP exceptions through unchanged)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


class ServiceMiddleware:
    """Outermost layer: counts and times every answer, caps the body, applies rate limit and token."""

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: set[str], max_body: int, token: str | None,
                 open_paths: set[str], rate: float, burst: int, max_clients: int = 10_000) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes
        self.max_body = max_body
        self.token = token.encode() if token else None
        self.open_paths = open_paths
        self.limiter = RateLimiter(rate, burst, max_clients) if rate > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        route = path if path in self.routes else "other"
        start = time.perf_counter()
        status_box = [500]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_box[0] = message["status"]
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        try:
            refusal = self._refuse(scope, path)
            if refusal is not None:
                reason, response = refusal
                self.metrics.rejected.labels(reason).inc()
                await response(scope, receive, send_wrapper)
                return
            await self.app(scope, self._capped(receive), send_wrapper)
        finally:
            self.metrics.requests.labels(route, scope["method"], str(status_box[0])).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)

    def _refuse(self, scope: Scope, path: str) -> tuple[str, Any] | None:
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_body:
            return "body_too_large", error_response(413, f"request body larger than {self.max_body} bytes")
        if self.limiter is not None and path not in ("/healthz",):
            client = scope.get("client")
            wait = self.limiter.take(client[0] if client else "unknown")
            if wait > 0:
                retry = str(max(1, math.ceil(wait)))
                return "rate_limited", error_response(429, f"too many requests from this client; retry in "
                                                           f"{wait:.2f} s", {"Retry-After": retry})
        open_request = (scope["method"] == "GET" and path in self.open_paths) or scope["method"] == "OPTIONS"
        if self.token is not None and not open_request:  # CORS preflights carry no credentials
            given = headers.get(b"authorization", b"")
            scheme, _, value = given.partition(b" ")
            if scheme.lower() != b"bearer" or not value.strip():
                return "unauthorized", error_response(401, "this server needs a bearer token (Authorization: "
                                                           "Bearer <token>)", {"WWW-Authenticate": "Bearer"})
            if not hmac.compare_digest(value.strip(), self.token):
                return "unauthorized", error_response(401, "wrong bearer token",
                                                      {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return None

    def _capped(self, receive: Receive) -> Receive:
        seen = [0]

        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                seen[0] += len(message.get("body", b""))
                if seen[0] > self.max_body:
                    raise BodyTooLarge(self.max_body)
            return message

        return wrapped


class RateLimiter:
    """Token bucket per client: ``rate`` requests per second on average, bursts of up to ``burst``."""

    def __init__(self, rate: float, burst: int, max_clients: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str, now: float | None = None) -> float:
        """Spend one token of ``client``: 0 when allowed, else the seconds until a token is back."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[client] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._buckets) > self.max_clients:  # forget the longest-idle clients (they start full again)
            self._buckets.popitem(last=False)
        return 0.0 if allowed else (1.0 - tokens) / self.rate
