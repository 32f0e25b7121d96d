"""Hostile requests: each answered by a clear JSON 4xx (no traceback, no server path), and the next normal
request still succeeds."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable, Iterator
from typing import ClassVar

import pytest
from fastapi.testclient import TestClient

from tests.serve.conftest import TOKEN, b64, make_client, png_bytes, wav_bytes

NORMAL = {"text": "a red square", "target_modalities": ["image"], "k": 2}


def assert_clean_error(answer, status: int | tuple[int, ...], words: str = "") -> None:
    statuses = (status,) if isinstance(status, int) else status
    assert answer.status_code in statuses, (answer.status_code, answer.text)
    body = answer.json()
    assert set(body) == {"error", "status"} and body["status"] == answer.status_code
    assert words.lower() in body["error"].lower(), body["error"]
    for leak in ("Traceback", "File \"", "/tmp", "/work", "site-packages", ".py"):
        assert leak not in answer.text, answer.text


def still_serves(client: TestClient, headers: dict | None = None) -> None:
    answer = client.post("/search", json=NORMAL, headers=headers or {})
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"]["image"][0]["id"].startswith("image:")


@pytest.fixture(scope="module")
def small(tiny_towers, collection) -> Iterator[TestClient]:
    """A server with a 64 KiB body cap."""
    yield from make_client(tiny_towers, collection, max_request_bytes=64 * 1024)


CASES: dict[str, tuple[Callable[[TestClient], object], int | tuple[int, ...], str]] = {
    "oversized body": (lambda c: c.post("/search", content=b"{" + b" " * 70_000 + b"}",
                                        headers={"content-type": "application/json"}), 413, "larger than"),
    "oversized upload": (lambda c: c.post("/search", files={"file": ("big.png", b"\x89PNG" + b"0" * 70_000)}),
                         413, "larger than"),
    "oversized chunked body": (lambda c: c.post("/search", content=iter([b'{"text": "', b"a" * 70_000, b'"}']),
                                                headers={"content-type": "application/json"}), 413, "larger than"),
    "bad json": (lambda c: c.post("/search", content=b'{"text": "a", ', headers={"content-type": "application/json"}),
                 400, "invalid json"),
    "json not an object": (lambda c: c.post("/search", json=["a"]), 422, "object"),
    "unknown field": (lambda c: c.post("/search", json={"text": "a", "sql": "drop"}), 422, "sql"),
    "two sources in one part": (lambda c: c.post("/search", json={"query": [{"text": "a", "id": "image:1"}]}),
                                422, "exactly one"),
    "nothing to search": (lambda c: c.post("/search", json={"k": 3}), 422, "nothing to search"),
    "corrupt upload": (lambda c: c.post("/search", json={"data": b64(b"\x89PNG\r\n\x1a\nnot really a png"),
                                                         "modality": "image"}), 400, "upload"),
    "wrong-modality upload": (lambda c: c.post("/search", json={"data": b64(wav_bytes(440.0)), "modality": "image"}),
                              415, "image tower reads"),
    "unknown file type": (lambda c: c.post("/search", json={"data": b64(b"just some text bytes")}), 400,
                          "which tower"),
    "no such tower": (lambda c: c.post("/search", json={"data": b64(png_bytes((1, 2, 3))), "modality": "imu"}),
                      400, "no 'imu' tower"),
    "bad base64": (lambda c: c.post("/search", json={"data": "%%%not-base64%%%"}), 400, "base64"),
    "unknown index": (lambda c: c.post("/search", json={"text": "a", "target_modalities": ["imu"]}), 404,
                      "no index named"),
    "unknown clip index": (lambda c: c.post("/knn-service", json={"text": "a", "modality": "image",
                                                                  "num_images": 2, "indice_name": "laion5B"}),
                           404, "no index named"),
    "k = 0": (lambda c: c.post("/search", json={"text": "a", "k": 0}), 422, "k must be between"),
    "k = 10^9": (lambda c: c.post("/search", json={"text": "a", "k": 10**9}), 422, "k must be between"),
    "k not a number": (lambda c: c.post("/search", json={"text": "a", "k": "many"}), 422, "k"),
    "traversal id in metadata": (lambda c: c.post("/metadata", json={"ids": ["../../etc/passwd"]}), 400,
                                 "not an index id"),
    "traversal id in preview": (lambda c: c.get("/preview", params={"id": "/etc/passwd"}), 400, "not an index id"),
    "traversal id in search": (lambda c: c.post("/search", json={"id": "image:1/../../../etc/passwd"}), 400,
                               "not an index id"),
    "unknown id": (lambda c: c.get("/preview", params={"id": "image:12345"}), 404, "no item"),
    "embedding of wrong size": (lambda c: c.post("/search", json={"embedding": [0.1] * 7}), 422, "32-d"),
    "embedding of zeros": (lambda c: c.post("/search", json={"embedding": [0.0] * 32}), 422, "zeros"),
    "weights cancel": (lambda c: c.post("/search", json={"query": [{"text": "a"}, {"text": "a", "weight": -1}]}),
                       422, "cancel"),
    "too many parts": (lambda c: c.post("/search", json={"query": [{"text": "a"}] * 9}), 413, "at most"),
    "text too long": (lambda c: c.post("/search", json={"text": "a" * 5000}), 413, "longer than"),
    "url without allow-list": (lambda c: c.post("/search", json={"url": "http://127.0.0.1:9/x.png"}), 403,
                               "allow-url-host"),
    "clip image_url without allow-list": (lambda c: c.post("/knn-service", json={
        "image_url": "http://127.0.0.1:9/x.png", "modality": "image", "num_images": 2, "indice_name": "image"}),
        403, "url queries are off"),
    "unknown route": (lambda c: c.get("/../../etc/passwd"), 404, "no such endpoint"),
    "wrong method": (lambda c: c.get("/search"), 405, "method not allowed"),
    "wrong content type": (lambda c: c.post("/search", content=b"text=a", headers={"content-type": "text/plain"}),
                           415, "application/json"),
    "bad filter": (lambda c: c.post("/search", json={"text": "a", "target_modalities": ["image"],
                                                     "filters": {"caption": {"$gt": 1}}}), 400, "filter"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_request_gets_clear_4xx_and_service_goes_on(small: TestClient, name: str) -> None:
    send, status, words = CASES[name]
    assert_clean_error(send(small), status, words)
    still_serves(small)


def test_token_required_when_set(tiny_towers, collection) -> None:
    for client in make_client(tiny_towers, collection, token=TOKEN):
        assert_clean_error(client.post("/search", json=NORMAL), 401, "bearer token")
        assert client.post("/search", json=NORMAL).headers["www-authenticate"].startswith("Bearer")
        assert_clean_error(client.post("/search", json=NORMAL, headers={"Authorization": "Bearer wrong-token!"}),
                           401, "wrong bearer token")
        assert_clean_error(client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}), 401, "bearer")
        assert client.get("/healthz").status_code == 200 and client.get("/").status_code == 200  # open
        still_serves(client, {"Authorization": f"Bearer {TOKEN}"})


def test_token_from_environment(monkeypatch) -> None:
    from languagebind.cli.main import build_parser
    from languagebind.cli.serve import build_config

    args = build_parser().parse_args(["serve", "--index", "I", "--checkpoint", "image=D"])
    monkeypatch.setenv("LANGUAGEBIND_TOKEN", TOKEN)
    assert build_config(args).token == TOKEN
    monkeypatch.delenv("LANGUAGEBIND_TOKEN")
    config = build_config(args)
    assert config.token is None and config.host == "127.0.0.1" and not config.cors_origins
    assert not config.allow_url_hosts and config.rate_limit > 0


def test_flood_past_rate_limit(tiny_towers, collection) -> None:
    for client in make_client(tiny_towers, collection, rate_limit=1.0, rate_burst=5):
        answers = [client.get("/indices") for _ in range(12)]
        codes = [a.status_code for a in answers]
        assert codes[:5] == [200] * 5 and 429 in codes, codes
        limited = next(a for a in answers if a.status_code == 429)
        assert_clean_error(limited, 429, "too many requests")
        assert int(limited.headers["retry-after"]) >= 1
        assert client.get("/healthz").status_code == 200  # probes are not limited
        time.sleep(1.05)  # one token back at 1 per second
        still_serves(client)


def test_cors_off_by_default_and_on_when_asked(client, tiny_towers, collection) -> None:
    origin = {"Origin": "http://elsewhere.example"}
    assert "access-control-allow-origin" not in client.get("/indices", headers=origin).headers
    for allowed in make_client(tiny_towers, collection, cors_origins=("http://elsewhere.example",)):
        answer = allowed.get("/indices", headers=origin)
        assert answer.headers["access-control-allow-origin"] == "http://elsewhere.example"
        assert "access-control-allow-origin" not in allowed.get("/indices", headers={
            "Origin": "http://other.example"}).headers
    for guarded in make_client(tiny_towers, collection, cors_origins=("http://elsewhere.example",), token=TOKEN):
        preflight = guarded.options("/search", headers={**origin, "Access-Control-Request-Method": "POST",
                                                        "Access-Control-Request-Headers": "authorization"})
        assert preflight.status_code == 200, preflight.text
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        assert guarded.post("/search", json=NORMAL, headers=origin).status_code == 401


class _Files(http.server.BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, bytes, dict]]] = {}

    def do_GET(self) -> None:
        status, body, headers = self.routes.get(self.path, (404, b"", {}))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def loopback_files() -> Iterator[str]:
    """A file server on 127.0.0.1 (the only host URL tests fetch from)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    _Files.routes = {"/red.png": (200, png_bytes((220, 30, 30)), {}),
                     "/big.png": (200, b"\x89PNG" + b"0" * 100_000, {}),
                     "/moved.png": (302, b"", {"Location": "http://169.254.169.254/"}),
                     "/missing.png": (404, b"", {})}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_url_fetch_only_from_allowed_hosts_with_caps(tiny_towers, collection, loopback_files: str) -> None:
    base = f"http://{loopback_files}"
    for client in make_client(tiny_towers, collection, allow_url_hosts=(loopback_files,),
                              max_request_bytes=64 * 1024):
        answer = client.post("/search", json={"url": f"{base}/red.png", "target_modalities": ["image"], "k": 1})
        assert answer.status_code == 200, answer.text
        assert answer.json()["results"]["image"][0]["id"] == "image:0"
        clip = client.post("/knn-service", json={"image_url": f"{base}/red.png", "modality": "image",
                                                 "num_images": 1, "indice_name": "image"})
        assert clip.status_code == 200 and clip.json()[0]["id"] == "image:0"
        assert_clean_error(client.post("/search", json={"url": f"{base}/big.png"}), 413, "limit")
        assert_clean_error(client.post("/search", json={"url": f"{base}/moved.png"}), 400, "redirect")
        assert_clean_error(client.post("/search", json={"url": f"{base}/missing.png"}), 502, "404")
        assert_clean_error(client.post("/search", json={"url": "http://localhost:1/x.png"}), 403, "allow-list")
        assert_clean_error(client.post("/search", json={"url": f"file://{loopback_files}/etc/passwd"}), 400,
                           "http")
        still_serves(client)


def test_index_paths_never_leave_the_media_root(client, collection) -> None:
    service = client.service
    secret = collection.root.parent / "secret.png"
    secret.write_bytes(png_bytes((1, 2, 3)))
    assert service.item_path({"path": "images/red.png"}) == (collection.root / "images" / "red.png").resolve()
    for escaping in ("../secret.png", "images/../../secret.png", "images/../../../../../../etc/passwd"):
        assert service.item_path({"path": escaping}) is None, escaping
    assert service.item_path({"path": "images/missing.png"}) is None
    assert service.item_path({}) is None


def test_decoded_size_caps(tiny_towers, collection) -> None:
    import io

    import numpy as np

    array = io.BytesIO()
    np.save(array, np.ones((40, 40), np.float32))
    wav = wav_bytes(440.0, seconds=3.0)
    for client in make_client(tiny_towers, collection, max_image_pixels=1000, max_audio_seconds=2.0):
        assert_clean_error(client.post("/search", json={"data": b64(array.getvalue()), "modality": "depth"}), 413,
                           "1600 values")
        assert_clean_error(client.post("/search", json={"data": b64(png_bytes((9, 9, 9), size=40)),
                                                        "modality": "image"}), 400, "too large")
        assert_clean_error(client.post("/search", json={"data": b64(wav), "modality": "audio"}), 400, "audio too long")
        still_serves(client)
