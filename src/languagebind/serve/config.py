"""``ServeConfig``: every limit and switch of the HTTP service in one place (secure defaults).

Defaults are what ``languagebind serve`` starts with: loopback only, no CORS, no server-side URL fetch, no token
(set one to expose the service beyond this machine), a per-client rate limit, and caps on every input size.
"""

from __future__ import annotations

from dataclasses import dataclass

from languagebind.errors import ConfigError

TOKEN_ENV = "LANGUAGEBIND_TOKEN"


@dataclass(frozen=True)
class ServeConfig:
    """Limits and switches of the service.

    Attributes:
        host, port: where uvicorn binds (127.0.0.1 unless told otherwise).
        token: bearer token every request but ``GET /healthz`` and the page itself must carry; ``None``: no auth.
        cors_origins: origins allowed to call the API from a browser (empty: CORS off).
        allow_url_hosts: host names ``image_url`` / ``url`` queries may be fetched from (empty: no URL fetch).
        max_request_bytes: largest request body (uploads included).
        max_image_pixels: largest decoded picture (images, thermal, depth maps, video frames).
        max_audio_seconds, max_video_seconds: longest decoded media.
        max_points: most rows of an uploaded array (point clouds, IMU series; depth arrays are pixels).
        max_k: largest ``k`` (results per target modality).
        max_query_parts: most inputs in one weighted query (and in one ``/embed`` call).
        max_text_chars: longest text query.
        max_ids: most ids in one ``/metadata`` call.
        request_timeout: seconds one request may take before it is answered 504.
        rate_limit, rate_burst: per-client token bucket (requests per second, bucket size); 0 turns it off.
        max_batch, max_wait_ms: micro-batching onto the model (``max_batch=1``: off).
        queue_size: requests waiting per modality before new ones are answered 503.
        decode_threads: threads decoding uploads while the model computes.
        url_timeout: seconds for one URL fetch (connect + read), when URL fetch is allowed.
        preview_size: longest side of preview thumbnails; preview_seconds: length of audio previews.
        media_roots: folders the index's relative item paths are found under (previews, search by item); a
            path that resolves outside its root is never read.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    cors_origins: tuple[str, ...] = ()
    allow_url_hosts: tuple[str, ...] = ()
    max_request_bytes: int = 25 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    max_audio_seconds: float = 120.0
    max_video_seconds: float = 600.0
    max_points: int = 1_000_000
    max_k: int = 1000
    max_query_parts: int = 8
    max_text_chars: int = 2000
    max_ids: int = 1000
    request_timeout: float = 30.0
    rate_limit: float = 50.0
    rate_burst: int = 200
    max_batch: int = 16
    max_wait_ms: float = 5.0
    queue_size: int = 64
    decode_threads: int = 2
    url_timeout: float = 10.0
    preview_size: int = 256
    preview_seconds: float = 10.0
    media_roots: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        positive = {"max_request_bytes": self.max_request_bytes, "max_image_pixels": self.max_image_pixels,
                    "max_audio_seconds": self.max_audio_seconds, "max_video_seconds": self.max_video_seconds,
                    "max_points": self.max_points, "max_k": self.max_k, "max_query_parts": self.max_query_parts,
                    "max_text_chars": self.max_text_chars, "max_ids": self.max_ids,
                    "request_timeout": self.request_timeout, "max_batch": self.max_batch,
                    "queue_size": self.queue_size, "decode_threads": self.decode_threads,
                    "url_timeout": self.url_timeout, "preview_size": self.preview_size,
                    "preview_seconds": self.preview_seconds}
        for name, value in positive.items():
            if not value > 0:
                raise ConfigError(f"ServeConfig.{name} must be positive, got {value!r}")
        if self.rate_limit < 0 or self.rate_burst < 0 or self.max_wait_ms < 0:
            raise ConfigError("ServeConfig.rate_limit, rate_burst and max_wait_ms must be >= 0")
        if self.rate_limit > 0 and self.rate_burst < 1:
            raise ConfigError("ServeConfig.rate_burst must be >= 1 when a rate limit is set")
        if not 0 < self.port < 65536:
            raise ConfigError(f"ServeConfig.port must be in 1..65535, got {self.port}")
        if self.token is not None and len(self.token) < 8:
            raise ConfigError("the bearer token must have at least 8 characters")
        if "*" in self.cors_origins and self.token is None:
            # an open API readable from any web page: allowed only when requests need a token
            raise ConfigError("--cors-origin '*' needs --token (any web page could call the API otherwise)")
