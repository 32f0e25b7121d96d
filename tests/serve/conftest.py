"""A tiny searchable collection for the service tests: tiny random towers, small media files, and an index.

The collection: 8 solid-colour PNG images with captions, 4 WAV tones, 3 16-bit depth maps, and the sample thermal
images and videos of tests/fixtures, each embedded by its tower; the index keeps each item's path and caption.
"""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from languagebind.api import LanguageBind
from languagebind.model.presets import tiny_config
from languagebind.processing.encode import encode_png16, encode_wav
from languagebind.serve import ServeConfig, Service, create_app
from tests.serve.store import build_store, make_sources, open_store

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 60), "blue": (30, 60, 220), "yellow": (230, 220, 40),
           "purple": (140, 40, 180), "orange": (240, 140, 20), "white": (245, 245, 245), "black": (10, 10, 10)}
TOKEN = "test-token-123456"


MODALITIES = ("image", "audio", "depth", "thermal", "video")


@dataclass
class Collection:
    root: Path
    images: list[Path]
    audio: list[Path]
    depth: list[Path]
    thermal: list[Path]
    video: list[Path]
    index: Path
    sources: list


def png_bytes(rgb: tuple[int, int, int], size: int = 24) -> bytes:
    buffer = io.BytesIO()
    pixels = np.zeros((size, size, 3), np.uint8) + np.array(rgb, np.uint8)
    pixels[size // 3: 2 * size // 3, size // 3: 2 * size // 3] //= 2  # a darker square in the middle
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def wav_bytes(freq: float, seconds: float = 1.0, rate: int = 16000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return encode_wav(0.5 * np.sin(2 * np.pi * freq * t), rate)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def make_files(root: Path) -> tuple[list[Path], list[Path], list[Path]]:
    images, audio, depth = [], [], []
    for name, rgb in COLOURS.items():
        path = root / "images" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png_bytes(rgb))
        images.append(path)
    for i, freq in enumerate((220.0, 440.0, 880.0, 1760.0)):
        path = root / "audio" / f"tone{i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(wav_bytes(freq))
        audio.append(path)
    for i in range(3):
        path = root / "depth" / f"depth{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        ramp = np.linspace(500 + 1000 * i, 4000 + 1000 * i, 32 * 32).reshape(32, 32).astype(np.uint16)
        path.write_bytes(encode_png16(ramp, 1))
        depth.append(path)
    return images, audio, depth


@pytest.fixture(scope="session")
def tiny_towers() -> LanguageBind:
    configs = {m: tiny_config(m) for m in MODALITIES}
    return LanguageBind.from_config(configs, seed=0)


@pytest.fixture(scope="session")
def collection(tmp_path_factory: pytest.TempPathFactory, tiny_towers: LanguageBind, assets: Path) -> Collection:
    root = tmp_path_factory.mktemp("serve-collection")
    images, audio, depth = make_files(root / "media")
    thermal, video = [], []
    for kind, found in (("thermal", thermal), ("video", video)):
        for source in sorted((assets / kind).iterdir()):
            target = root / "media" / kind / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
            found.append(target)
    captions = {"image": [f"a {p.stem} square" for p in images], "audio": [f"a tone {p.stem}" for p in audio],
                "depth": [f"a depth ramp {p.stem}" for p in depth],
                "thermal": [f"thermal sample {p.stem}" for p in thermal],
                "video": [f"video sample {p.stem}" for p in video]}
    files = {"image": images, "audio": audio, "depth": depth, "thermal": thermal, "video": video}
    embeddings = {m: tiny_towers.encode(m, paths).numpy() for m, paths in files.items()}
    relative = {m: [p.relative_to(root / "media").as_posix() for p in paths] for m, paths in files.items()}
    index = build_store(root / "index", embeddings, relative, captions)
    return Collection(root / "media", images, audio, depth, thermal, video, index,
                      make_sources(embeddings, relative, captions))


def gate_model(service: Service) -> threading.Event:
    """Hold every forward pass of ``service`` until the returned event is set (a slow model, for queue tests)."""
    gate = threading.Event()
    real = service._run_batch

    def slow(modality: str, payloads: list) -> np.ndarray:
        gate.wait(10)
        return real(modality, payloads)

    service.batcher.run_batch = slow
    return gate


def make_client(model: LanguageBind, collection: Collection, **overrides: object) -> Iterator[TestClient]:
    settings = {"rate_limit": 0.0, "media_roots": (str(collection.root),), **overrides}
    store = open_store(collection.index)
    service = Service(model, store, ServeConfig(**settings))
    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        client.service = service
        yield client
    store.close()


@pytest.fixture(scope="module")
def client(tiny_towers: LanguageBind, collection: Collection) -> Iterator[TestClient]:
    yield from make_client(tiny_towers, collection)
