"""Tiny image collections and a tiny saved checkpoint for the collection / encode tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from languagebind.api import LanguageBind
from languagebind.model.presets import tiny_config


def make_images(root: Path, count: int, seed: int = 0, per_dir: int = 300) -> list[Path]:
    """``count`` 8x8 PNGs spread over sub-directories (sorted walk order = returned order)."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        path = root / f"d{i // per_dir:02d}" / f"img{i % per_dir:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def add_corrupt(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    return path


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tiny-image-ckpt")
    LanguageBind.from_config(tiny_config("image"), seed=3).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_model(tiny_checkpoint: Path) -> LanguageBind:
    return LanguageBind.from_pretrained(tiny_checkpoint, device="cpu")
