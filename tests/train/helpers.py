"""Shared by the training tests: colour-class data in the three formats, tiny configs, CLI runs, final weights."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from languagebind.train.checkpoint import find_resume
from languagebind.train.recipe import TrainConfig
from tests.data.helpers import make_clips, write_manifest, write_shards, write_vidal

REPO = Path(__file__).resolve().parents[2]


def colour_data(root: Path, fmt: str, modality: str, n_train: int = 48, n_val: int = 8) -> dict[str, Any]:
    """Train/val data whose items carry their class colour and whose texts name it (8 classes)."""
    train, val = make_clips(n_train), make_clips(n_val, prefix="val")
    if fmt == "manifest":
        return {"train_data": str(write_manifest(root / "train", train, (modality,))),
                "val_data": str(write_manifest(root / "val", val, (modality,)))}
    if fmt == "shards":
        last = len(write_shards(root / "shards", train, 12, modalities=(modality,))) - 1
        return {"train_data": str(root / "shards" / f"shard-{{000000..{last:06d}}}.tar"),
                "val_data": str(write_manifest(root / "val", val, (modality,)))}
    annotation, data_root = write_vidal(root / "train", train, (modality,))
    val_annotation, val_root = write_vidal(root / "val", val, (modality,))
    return {"train_data": str(annotation), "data_root": str(data_root), "val_data": str(val_annotation),
            "val_data_root": str(val_root)}


def tiny_config(**overrides: Any) -> TrainConfig:
    base = {"modality": "image", "init": "random:tiny", "tuning": "full", "batch_size": 8, "max_steps": 6,
            "lr": 2e-3, "warmup_steps": 2, "save_every": 3, "log_every": 1, "threads": 1, "progress": False}
    return TrainConfig.from_dict({**base, **overrides})


def run_cli(*args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    """``python -m languagebind ARGS`` with one thread per process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "languagebind", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=REPO)
    if check and proc.returncode != 0:
        raise AssertionError(f"languagebind {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    found = find_resume(run_dir)
    assert found is not None, f"no checkpoint in {run_dir}"
    return load_file(found[0] / "trainable.safetensors")


def max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert set(a) == set(b)
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


def write_config(path: Path, **values: Any) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(values))
    return path
