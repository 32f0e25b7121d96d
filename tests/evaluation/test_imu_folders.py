"""IMU zero-shot classification from one folder per class (the generic ``folder`` benchmark): hand-computed
metrics with a scoring encoder, and the CLI with a tiny IMU tower, a bad trace left out under --allow-missing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from languagebind.api import LanguageBind
from languagebind.cli.main import main
from languagebind.evaluation import get_benchmark
from languagebind.evaluation.runner import evaluate
from languagebind.model.presets import tiny_config
from languagebind.registry import get_modality

CLASSES = ["running", "sitting", "walking_upstairs"]
SHOWN = ["running", "sitting", "walking upstairs"]
# (file, scores for the three classes): ranks of the truth 1, 2, 1, 3, 1 -> top-1 = 3 / 5 = 60 %, top-5 = 100 %
LAYOUT = [("running/a.npy", [5, 1, 2]), ("running/b.csv", [1, 5, 2]), ("sitting/a.npz", [1, 5, 2]),
          ("walking_upstairs/a.npy", [5, 4, 1]), ("walking_upstairs/b.npy", [1, 2, 5])]


def write_layout(root: Path) -> list[str]:
    rng = np.random.default_rng(0)
    items = []
    for rel, _ in LAYOUT:
        path = root / "test" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        trace = rng.normal(size=(300, 6))
        if path.suffix == ".npy":
            np.save(path, trace)
        elif path.suffix == ".npz":
            np.savez(path, acc=trace[:, :3], gyro=trace[:, 3:], fs=100.0)
        else:
            rows = [",".join(["t", "ax", "ay", "az", "gx", "gy", "gz"])]
            rows += [",".join(map(str, [k / 200.0, *row])) for k, row in enumerate(trace)]
            path.write_text("\n".join(rows) + "\n")
        items.append(str(path))
    (root / "test" / "README.txt").write_text("not a trace\n")  # a file of another kind is not an item
    return items


class ScoringEncoder:
    def __init__(self, items: list[str]) -> None:
        self.scores = {item: scores for item, (_, scores) in zip(items, LAYOUT, strict=True)}

    def encode(self, modality: str, items: Any, batch_size: int = 32, progress: bool | None = None) -> torch.Tensor:
        if modality == "text":
            return torch.stack([torch.eye(3)[next(i for i, c in enumerate(SHOWN) if f" {c}." in t)] for t in items])
        return torch.nn.functional.normalize(torch.tensor([self.scores[str(i)] for i in items], dtype=torch.float32),
                                             dim=-1)

    def checkpoint_fingerprint(self, modality: str) -> str:
        return f"scores-{modality}"


def test_folder_benchmark_of_imu_gives_the_hand_computed_metrics(tmp_path: Path) -> None:
    items = write_layout(tmp_path)
    bench = get_benchmark("folder", "imu")
    dataset = bench.reader(tmp_path)
    assert [str(p) for p in dataset.items] == items and dataset.classnames == SHOWN
    assert dataset.labels == [0, 0, 1, 2, 2]
    result = evaluate(bench, tmp_path, ScoringEncoder(items), cache_dir=None)
    assert result.metrics == pytest.approx({"top1": 60.0, "top5": 100.0})
    assert result.encoded["texts"] == 3 * len(get_modality("imu").templates)


def test_cli_with_a_tiny_imu_tower_and_a_bad_trace(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    items = write_layout(tmp_path / "data")
    np.save(items[1].replace(".csv", "_nan.npy"), np.full((300, 6), np.nan))
    model = LanguageBind.from_config({"imu": tiny_config("imu")}, seed=2)
    checkpoint = model.save_pretrained(tmp_path / "ckpt", modality="imu")
    args = ["eval", "folder", "--modality", "imu", "--data", str(tmp_path / "data"), "--checkpoint",
            f"imu={checkpoint}", "--out", str(tmp_path / "r.json"), "--no-cache"]
    assert main(args) == 2
    assert "NaN" in capsys.readouterr().err
    assert main([*args, "--allow-missing"]) == 0
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["n"] == 5 and result["missing"][0]["reason"] == "samples contain NaN or infinite values"
    emb = model.encode("imu", items).double()
    templates = get_modality("imu").templates
    prompts = model.encode("text", [t.format(c) for c in SHOWN for t in templates]).double()
    classes = torch.nn.functional.normalize(prompts.view(3, len(templates), -1).mean(1), dim=-1)
    top1 = [int(row.argmax()) == label for row, label in zip(emb @ classes.T, [0, 0, 1, 2, 2], strict=True)]
    assert result["metrics"]["top1"] == pytest.approx(100 * np.mean(top1))
