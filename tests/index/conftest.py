"""Small synthetic collections for the index tests: clustered unit vectors with metadata."""

from __future__ import annotations

import numpy as np
import pytest

from languagebind.index import ArraySource

CATEGORIES = ("dog", "cat", "car", "tree")


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def clustered(n: int, dim: int, seed: int = 0, clusters: int = 8) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((clusters, dim))
    return unit(centers[rng.integers(clusters, size=n)] + 0.6 * rng.standard_normal((n, dim)))


def rows_for(modality: str, n: int, start: int = 0) -> list[dict]:
    return [{"path": f"{modality}/{i:05d}.bin", "category": CATEGORIES[i % 4], "rank": i,
             "caption": f"item {i}", "tags": [CATEGORIES[i % 4], i % 3]} for i in range(start, start + n)]


@pytest.fixture(scope="module")
def vectors() -> dict[str, np.ndarray]:
    return {"image": clustered(600, 32, 1), "audio": clustered(300, 32, 2)}


@pytest.fixture(scope="module")
def sources(vectors) -> list[ArraySource]:
    return [ArraySource(m, v, rows_for(m, len(v))) for m, v in vectors.items()]
