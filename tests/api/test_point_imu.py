"""The built-in point and IMU towers through the API and the CLI: random towers, encode, save and load,
train -> export -> embed with ``--skip-bad`` (a manifest whose media field is the modality's name)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from languagebind.api import LanguageBind
from languagebind.cli.main import main
from languagebind.errors import InputError
from languagebind.model.presets import tiny_config
from languagebind.registry import get_modality
from tests.processing.point_writers import write_ply, write_table


def sphere(n: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def box(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    points = rng.uniform(-1, 1, size=(n, 3))
    axis = rng.integers(0, 3, n)
    points[np.arange(n), axis] = rng.choice([-1.0, 1.0], n)
    return points * [2.0, 1.0, 0.5]


def trace(steps: int, seed: int, fast: bool) -> np.ndarray:
    t = np.arange(steps) / 200.0
    phase = np.random.default_rng(seed).uniform(0, 6)
    return np.stack([np.sin(t * (12 if fast else 3) + phase + c) * (c + 1) for c in range(6)], axis=1)


def point_and_imu_data(root: Path, count: int = 16) -> Path:
    """A manifest of ``count`` records with a point cloud (.ply / .txt) and an IMU trace (.npy / .csv) each."""
    root.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(count):
        name = "sphere" if i % 2 else "box"
        points = (sphere if i % 2 else box)(300, i)
        point = write_ply(root / f"{i}.ply", points, "binary_little_endian") if i % 3 else \
            write_table(root / f"{i}.txt", points)
        np.save(root / f"{i}.npy", trace(300, i, bool(i % 2)))
        lines.append({"id": f"r{i}", "point": point.name, "imu": f"{i}.npy",
                      "text": {"raw": f"a {name}" if i % 2 == 0 else f"a round {name}"}})
    manifest = root / "train.jsonl"
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return manifest


@pytest.mark.parametrize("modality", ["point", "imu"])
def test_random_tower_encode_save_and_load(tmp_path: Path, modality: str) -> None:
    manifest = point_and_imu_data(tmp_path / "data", 4)
    files = [str(manifest.parent / json.loads(line)[modality]) for line in manifest.read_text().splitlines()]
    model = LanguageBind.from_config({modality: tiny_config(modality)}, seed=3)
    again = LanguageBind.from_config({modality: tiny_config(modality)}, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(model.tower(modality).state_dict().values(),
                                                 again.tower(modality).state_dict().values(), strict=True))
    batch = model.preprocess(modality, files)
    assert batch.shape == (4, 256, 3) if modality == "point" else batch.shape == (4, 6, 256)
    emb = model.encode(modality, files, batch_size=3)
    assert emb.shape == (4, 32) and torch.allclose(emb.norm(dim=-1), torch.ones(4), atol=1e-5)
    assert torch.equal(emb, model.encode(modality, files, batch_size=3))
    assert torch.allclose(emb, model.encode(modality, files, batch_size=2), atol=1e-6)  # batch-size independent
    saved = model.save_pretrained(tmp_path / "ckpt", modality=modality)
    loaded = LanguageBind.from_pretrained(saved)
    assert torch.equal(loaded.encode(modality, files, batch_size=3), emb)
    result = loaded.classify(modality, files[:2], ["box", "sphere"])
    assert result.probs.shape == (2, 2) and torch.allclose(result.probs.sum(1), torch.ones(2))
    with pytest.raises(InputError, match="empty file"):
        (tmp_path / "empty.npy").write_bytes(b"")
        loaded.encode(modality, [str(tmp_path / "empty.npy")])


def test_tower_geometry_reaches_the_processor() -> None:
    config = tiny_config("point")
    model = LanguageBind.from_config({"point": config})
    options = model.processor_config("point").options
    assert options["num_points"] == config.vision.image_size[1] == 256 and options["normals"] is False
    assert "num_groups" not in options  # a token option, not a preprocessing one
    imu = LanguageBind.from_config({"imu": tiny_config("imu")})
    assert imu.processor_config("imu").options["num_steps"] == 256
    assert get_modality("point").start == get_modality("imu").start == "scratch"


@pytest.mark.parametrize("modality", ["point", "imu"])
def test_train_export_embed_skip_bad(tmp_path: Path, modality: str, capsys: pytest.CaptureFixture) -> None:
    manifest = point_and_imu_data(tmp_path / "data")
    run, export = tmp_path / "run", tmp_path / "export"
    assert main(["train", "--config", "tiny", "--out", str(run), "--set", f"modality={modality}",
                 "--set", "init=random:tiny", "--set", f"train_data={manifest}", "--set", f"val_data={manifest}",
                 "--set", "max_steps=4", "--set", "save_every=2", "--set", "eval_every=4", "--set", "val_samples=8",
                 "--set", "progress=false"]) == 0
    assert main(["export", str(run), "--out", str(export)]) == 0
    good = [str(manifest.parent / f"{i}.{'ply' if modality == 'point' else 'npy'}") for i in (1, 2)]
    bad = tmp_path / ("header.ply" if modality == "point" else "axes.csv")
    if modality == "point":
        bad.write_bytes(b"ply\nformat ascii 1.0\nelement vertex 3\n")
    else:
        bad.write_text("acc_x,acc_y,acc_z,temperature\n1,2,3,4\n")
    empty = tmp_path / "empty.npy"
    empty.write_bytes(b"")
    capsys.readouterr()
    out = tmp_path / "emb.npy"
    assert main(["embed", "--checkpoint", f"{modality}={export}", "--skip-bad", good[0], str(bad), str(empty),
                 good[1], "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert np.load(out).shape == (2, 32)
    reason = "unreadable PLY header" if modality == "point" else "no gyro x column"
    assert f"skipped {bad}: " in err and reason in err and f"skipped {empty}: empty file" in err
    assert main(["embed", "--checkpoint", f"{modality}={export}", str(bad), "--out", str(out)]) == 2
    assert reason in capsys.readouterr().err


def test_a_point_tower_with_normals_takes_six_channels(tmp_path: Path) -> None:
    import dataclasses

    config = tiny_config("point")
    config = dataclasses.replace(config, vision=dataclasses.replace(config.vision, num_channels=6,
                                                                    options={"num_groups": 8, "seed": 1}))
    model = LanguageBind.from_config({"point": config})
    points = sphere(300, 0)
    path = write_table(tmp_path / "with_normals.txt", np.hstack([points, points]))
    assert model.processor_config("point").options == {"seed": 1, "num_points": 256, "normals": True}
    assert model.preprocess("point", [path]).shape == (1, 256, 6)
    assert model.encode("point", [path]).shape == (1, 32)
    with pytest.raises(InputError, match="has no normals"):
        model.encode("point", [write_table(tmp_path / "xyz.txt", points)])


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_point_and_imu_towers_in_every_precision(precision: str) -> None:
    for modality, batch in (("point", torch.randn(2, 256, 3)), ("imu", torch.randn(2, 6, 256))):
        reference = LanguageBind.from_config({modality: tiny_config(modality)}).encode(modality, batch)
        model = LanguageBind.from_config({modality: tiny_config(modality)}, precision=precision)
        cosine = (model.encode(modality, batch) * reference).sum(-1)
        assert cosine.min() > 0.99, (modality, precision)
