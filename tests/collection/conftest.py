"""Tiny image collections for the collection tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


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
