"""`languagebind serve` end to end: a tiny checkpoint and index on disk, the command in its own process on
127.0.0.1, the token from ``LANGUAGEBIND_TOKEN``, a search, then SIGTERM: a clean, graceful exit."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from languagebind.api import LanguageBind
from tests.serve.conftest import TOKEN

REPO = Path(__file__).resolve().parents[2]


def test_serve_command_serves_and_stops_gracefully(tiny_towers: LanguageBind, collection, tmp_path: Path) -> None:
    checkpoint = tiny_towers.save_pretrained(tmp_path / "image-ckpt", "image")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), LANGUAGEBIND_TOKEN=TOKEN)
    command = [sys.executable, "-m", "languagebind", "serve", "--index", str(collection.index), "--checkpoint",
               f"image={checkpoint}", "--port", str(port), "--media-root", str(collection.root), "--log-level",
               "warning"]
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and child.poll() is None:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert httpx.post(f"{url}/search", json={"text": "a"}).status_code == 401  # the token from the environment
        answer = httpx.post(f"{url}/search", files={"file": ("q.png", collection.images[5].read_bytes())},
                            data={"target_modalities": "image", "k": "3"}, headers=auth)
        assert answer.status_code == 200, answer.text
        assert answer.json()["results"]["image"][0]["id"] == "image:5"
        assert httpx.get(f"{url}/indices", headers=auth).json()["towers"] == ["text", "image"]
    finally:
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=60)
    # uvicorn finishes its graceful shutdown, then lets SIGTERM end the process as the signal's default does
    assert child.returncode in (0, -signal.SIGTERM), err
    assert "Traceback" not in err and f"http://127.0.0.1:{port}/" in err
