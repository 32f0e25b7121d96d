"""One real uvicorn server on 127.0.0.1: clip-retrieval's own ``ClipClient`` and the web page in headless Chromium
(Playwright driving Debian's chromium; never a downloaded browser), and graceful shutdown."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import httpx
import pytest
import uvicorn

from languagebind.serve import ServeConfig, Service, create_app
from tests.serve.conftest import TOKEN, gate_model
from tests.serve.store import open_store

# Chromium headless in a container, as root and offline: no sandbox, no GPU, nothing fetched in the background
HEADLESS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DOCS_SCREENSHOT = os.environ.get("LANGUAGEBIND_SERVE_SCREENSHOT")  # also save the page's picture here


@dataclass
class Live:
    url: str
    server: uvicorn.Server
    thread: threading.Thread
    service: Service


def start_server(service: Service) -> Live:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="warning",
                            timeout_graceful_shutdown=10)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return Live(url, server, thread, service)
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError("the server did not become ready in 30 s")


def stop_server(live: Live) -> None:
    live.server.should_exit = True
    live.thread.join(30)
    assert not live.thread.is_alive()


@pytest.fixture(scope="module")
def live(tiny_towers, collection) -> Iterator[Live]:
    config = ServeConfig(rate_limit=0.0, media_roots=(str(collection.root),))
    service = Service(tiny_towers, open_store(collection.index), config)
    running = start_server(service)
    yield running
    stop_server(running)


def clip_client_module() -> ModuleType:
    """clip-retrieval's client module, loaded from its file: importing the package would import its back end
    (flask, torch, open_clip ...), which is not installed (``pip install --no-deps clip-retrieval``)."""
    spec = importlib.util.find_spec("clip_retrieval")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("clip-retrieval is not installed (make venv installs it with --no-deps)", pytrace=False)
    path = Path(next(iter(spec.submodule_search_locations))) / "clip_client.py"
    module_spec = importlib.util.spec_from_file_location("clip_retrieval_client", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def test_clip_retrieval_client_queries_our_server(live: Live, collection) -> None:
    clip = clip_client_module()
    client = clip.ClipClient(url=f"{live.url}/knn-service", indice_name="image", num_images=5)
    by_text = client.query(text="a red square")
    assert len(by_text) == 5
    assert [r["similarity"] for r in by_text] == sorted((r["similarity"] for r in by_text), reverse=True)
    assert all(r["id"].startswith("image:") and r["caption"] and r["url"].startswith(live.url) for r in by_text)
    by_image = client.query(image=str(collection.images[2]))  # the blue square: finds itself first
    assert by_image[0]["id"] == "image:2" and by_image[0]["similarity"] == pytest.approx(1.0, abs=1e-4)
    assert by_image[0]["caption"] == "a blue square"
    vector = httpx.post(f"{live.url}/embed", json={"text": "a red square"}).json()["embeddings"][0]["embedding"]
    by_embedding = client.query(embedding_input=vector)
    assert [r["id"] for r in by_embedding] == [r["id"] for r in by_text]
    preview = httpx.get(by_image[0]["url"])  # the url each result carries is our preview of the item
    assert preview.status_code == 200 and preview.headers["content-type"] == "image/jpeg"
    audio = clip.ClipClient(url=f"{live.url}/knn-service", indice_name="audio", num_images=3)
    assert [r["id"].split(":")[0] for r in audio.query(text="a tone")] == ["audio"] * 3
    assert sorted(httpx.get(f"{live.url}/indices-list").json()) == ["audio", "depth", "image", "thermal", "video"]
    metadata = httpx.post(f"{live.url}/metadata", json={"ids": ["image:2"], "indice_name": "image"}).json()
    assert [m["id"] for m in metadata] == ["image:2"]
    assert metadata[0]["metadata"]["caption"] == "a blue square" and metadata[0]["metadata"]["name"] == "blue.png"


def chromium() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail("no Chromium: this test needs Debian's chromium (apt-get install chromium); .ci/run installs it",
                    pytrace=False)
    return path


def test_web_page_text_and_file_queries_in_chromium(live: Live, collection, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=chromium(),
                                                       args=HEADLESS, headless=True,
                                                       viewport={"width": 1280, "height": 1100})
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(live.url + "/")
            page.wait_for_selector("body[data-state=ready]", timeout=20_000)
            assert page.locator("#targets input[type=checkbox]").count() == 5

            # a text query: ranked results in every index, previews fetched through the server
            page.fill("#text", "a red square")
            page.click("#go")
            page.wait_for_selector("body[data-searches='1']", timeout=20_000)
            for modality in ("image", "audio", "depth", "thermal", "video"):
                cards = page.locator(f"section[data-modality={modality}] .card.result")
                assert cards.count() == 8 if modality == "image" else cards.count() > 0
                scores = [float(s) for s in page.locator(f"section[data-modality={modality}] .score").all_inner_texts()]
                assert scores == sorted(scores, reverse=True)
            expect(page.locator(".preview")).to_have_count(19, timeout=20_000)  # one per result
            assert page.locator("section[data-modality=image] img.preview").count() == 8
            assert page.locator("section[data-modality=audio] audio.preview").count() == 4
            assert page.locator("section[data-modality=depth] canvas.preview").count() == 3  # false colour
            assert page.locator("section[data-modality=thermal] canvas.preview").count() == 2  # false colour
            assert page.locator("section[data-modality=video] img.preview").count() == 2  # posters
            if DOCS_SCREENSHOT:
                page.screenshot(path=DOCS_SCREENSHOT, full_page=True)

            # a file query: the picked image finds itself first
            page.click("#clear")
            page.uncheck("#targets input[value=audio]")
            page.set_input_files("#file", str(collection.images[1]))  # the green square
            page.wait_for_selector("body[data-searches='2']", timeout=20_000)
            first = page.locator("section[data-modality=image] .card.result").first
            assert first.get_attribute("data-id") == "image:1"
            assert page.locator("section[data-modality=audio]").count() == 0
            expect(page.locator(".preview")).to_have_count(15, timeout=20_000)  # audio unchecked
            page.screenshot(path=str(tmp_path / "page.png"), full_page=True)

            # click a result: search by that item
            page.locator("section[data-modality=image] .card.result").nth(3).click()
            page.wait_for_selector("body[data-searches='3']", timeout=20_000)
            clicked = page.locator("#parts .chip").count()
            assert clicked == 1 and not page.locator("#error").inner_text()
            assert not errors, errors
            assert all(u.startswith(live.url) or u.startswith("blob:") or u.startswith("data:") for u in requests)
        finally:
            context.close()
    assert (tmp_path / "page.png").stat().st_size > 10_000


def test_graceful_shutdown_finishes_the_request_in_flight(tiny_towers, collection) -> None:
    config = ServeConfig(rate_limit=0.0, max_batch=1, media_roots=(str(collection.root),))
    service = Service(tiny_towers, open_store(collection.index), config)
    gate = gate_model(service)
    live = start_server(service)
    answers: list[httpx.Response] = []
    request = threading.Thread(target=lambda: answers.append(httpx.post(
        f"{live.url}/search", json={"text": "a", "target_modalities": ["image"], "k": 1}, timeout=30)))
    request.start()
    deadline = time.monotonic() + 10
    while service.batcher.computing("text") != 1 and time.monotonic() < deadline:
        time.sleep(0.01)  # until the request is waiting in the forward pass
    live.server.should_exit = True
    time.sleep(0.3)
    gate.set()
    request.join(30)
    stop_server(live)
    assert answers and answers[0].status_code == 200, answers
    assert not service.ready and not service.batcher.accepting


def test_web_page_asks_for_the_token_and_then_searches(tiny_towers, collection, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    config = ServeConfig(rate_limit=0.0, token=TOKEN, media_roots=(str(collection.root),))
    live = start_server(Service(tiny_towers, open_store(collection.index), config))
    try:
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=chromium(),
                                                           args=HEADLESS, headless=True)
            try:
                page = context.new_page()
                page.goto(live.url + "/")
                expect(page.locator("#token-box")).to_be_visible(timeout=20_000)  # /indices answered 401
                page.fill("#token", TOKEN)
                page.click("#token-save")
                page.wait_for_selector("body[data-state=ready]", timeout=20_000)
                page.fill("#text", "a tone")
                page.click("#go")
                page.wait_for_selector("body[data-searches='1']", timeout=20_000)
                expect(page.locator("section[data-modality=audio] audio.preview")).to_have_count(4, timeout=20_000)
                assert not page.locator("#error").inner_text()
            finally:
                context.close()
    finally:
        stop_server(live)
