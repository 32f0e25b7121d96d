"""Tiny point and IMU towers learn from scratch through the CLI: train on captioned synthetic items, export, then
zero-shot classify held-out ones from one folder per class (``eval folder``) well above chance."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from languagebind.cli.main import main

GRAVITY = 9.81


def _sphere(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _box(rng: np.random.Generator, n: int) -> np.ndarray:
    p = rng.uniform(-1, 1, (n, 3))
    p[np.arange(n), rng.integers(0, 3, n)] = rng.choice([-1.0, 1.0], n)
    return p


def _cylinder(rng: np.random.Generator, n: int) -> np.ndarray:
    t = rng.uniform(0, 2 * np.pi, n)
    return np.stack([np.cos(t), np.sin(t), rng.uniform(-1.5, 1.5, n)], 1)


def _ring(rng: np.random.Generator, n: int) -> np.ndarray:
    t = rng.uniform(0, 2 * np.pi, n)
    r = 1 + 0.25 * np.cos(rng.uniform(0, 2 * np.pi, n))
    return np.stack([r * np.cos(t), r * np.sin(t), 0.25 * rng.normal(size=n)], 1)


def shape(kind: str, rng: np.random.Generator) -> np.ndarray:
    """400 points of a shape, randomly rotated and scaled."""
    rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    points = {"sphere": _sphere, "box": _box, "cylinder": _cylinder, "ring": _ring}[kind](rng, 400)
    return points @ rotation.T * rng.uniform(0.5, 2.0)


def motion(kind: str, rng: np.random.Generator, steps: int = 400, rate: float = 200.0) -> np.ndarray:
    """(steps, 6) acc + gyro of a body walking, running, sitting or turning (random phase, noise)."""
    t = np.arange(steps) / rate
    phase = rng.uniform(0, 2 * np.pi)
    acc = rng.normal(scale=0.2, size=(steps, 3)) + np.array([0.0, 0.0, GRAVITY])
    gyro = rng.normal(scale=0.02, size=(steps, 3))
    if kind in ("walking", "running"):
        step, swing = (2.0, 2.0) if kind == "walking" else (3.5, 6.0)
        acc[:, 2] += swing * np.sin(2 * np.pi * step * t + phase)
        acc[:, 0] += swing / 2 * np.sin(np.pi * step * t + phase)
    elif kind == "turning":
        gyro[:, 2] += rng.uniform(0.8, 1.5) * rng.choice([-1.0, 1.0])
    return np.hstack([acc, gyro])


def learn(tmp_path: Path, modality: str, kinds: list[str], make: Callable[[str, np.random.Generator], np.ndarray],
          caption: str) -> dict:
    rng = np.random.default_rng(0)
    records = []
    for split, count in (("train", 48), ("test", 12)):
        for kind in kinds:
            for i in range(count):
                path = tmp_path / split / kind / f"{kind}_{i:03d}.npy"
                path.parent.mkdir(parents=True, exist_ok=True)
                np.save(path, make(kind, rng))
                if split == "train":
                    records.append({"id": f"{kind}{i}", modality: str(path), "text": {"raw": caption.format(kind)}})
    order = rng.permutation(len(records))
    manifest = tmp_path / "train.jsonl"
    manifest.write_text("".join(json.dumps(records[i]) + "\n" for i in order))
    run, export, out = tmp_path / "run", tmp_path / "export", tmp_path / "results.json"
    assert main(["train", "--config", "tiny", "--out", str(run), "--set", f"modality={modality}",
                 "--set", "init=random:tiny", "--set", f"train_data={manifest}", "--set", f"val_data={manifest}",
                 "--set", "max_steps=150", "--set", "batch_size=16", "--set", "tuning=full", "--set", "lr=2e-3",
                 "--set", "eval_every=0", "--set", "save_every=150", "--set", "progress=false"]) == 0
    assert main(["export", str(run), "--out", str(export)]) == 0
    assert main(["eval", "folder", "--modality", modality, "--data", str(tmp_path / "test"), "--checkpoint",
                 f"{modality}={export}", "--out", str(out), "--no-cache"]) == 0
    return json.loads(out.read_text())


@pytest.mark.slow
def test_a_tiny_point_tower_tells_four_shapes_apart(tmp_path: Path) -> None:
    result = learn(tmp_path, "point", ["box", "cylinder", "ring", "sphere"], shape, "a {}")
    assert result["n"] == 48 and result["metrics"]["top1"] >= 50.0  # chance 25; 66.7 when written


@pytest.mark.slow
def test_a_tiny_imu_tower_tells_four_motions_apart(tmp_path: Path) -> None:
    result = learn(tmp_path, "imu", ["running", "sitting", "turning", "walking"], motion, "a person {}")
    assert result["n"] == 48 and result["metrics"]["top1"] >= 75.0  # chance 25; 100 when written
