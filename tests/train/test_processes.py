"""Acceptance through the CLI in separate processes: kill -9 + ``--resume auto`` (with a truncated newest
checkpoint) ends where an uninterrupted run ends; ``torchrun`` DDP with batch B per rank equals one process with
batch 2B; the official-format export loads."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from languagebind.api import LanguageBind
from tests.train.helpers import REPO, colour_data, final_weights, max_difference, run_cli, write_config


def _config(tmp_path: Path, fmt: str, **values) -> Path:
    data = colour_data(tmp_path / "data", fmt, "image", n_train=48)
    base = {"modality": "image", "init": "random:tiny", "tuning": "full", "lr": 2e-3, "warmup_steps": 2,
            "threads": 1, "log_every": 1, "progress": False}
    return write_config(tmp_path / "config.yaml", **{**base, **data, **values})


@pytest.mark.slow
def test_kill_and_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    # shards + 2 DataLoader workers + augmentation + patch dropout + LoRA-free partial tuning: every kind of state
    config = _config(tmp_path, "shards", batch_size=6, max_steps=24, save_every=4, keep_checkpoints=3, workers=2,
                     patch_dropout=0.25, augment=True, crop_scale=[0.6, 1.0], tuning="partial")
    run_cli("train", "--config", str(config), "--out", str(tmp_path / "whole"))

    killed = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "languagebind", "train", "--config", str(config), "--out",
                             str(killed)], env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (killed / "checkpoints" / "step-00000008").is_dir():
        assert proc.poll() is None and time.time() < deadline, "the run ended before it could be killed"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "checkpoints" / "step-00000024").exists()
    newest = max((killed / "checkpoints").glob("step-*"))
    data = (newest / "optimizer.safetensors").read_bytes()
    (newest / "optimizer.safetensors").write_bytes(data[: len(data) // 2])  # a torn write: falls back

    out = run_cli("train", "--config", str(config), "--out", str(killed), "--resume", "auto")
    assert "step-00000024" in out.stdout
    difference = max_difference(final_weights(killed), final_weights(tmp_path / "whole"))
    print("kill/resume max parameter difference:", difference)
    assert difference <= 1e-6
    steps = [json.loads(line)["step"] for line in (killed / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 25))  # lines after the resumed checkpoint were dropped, then logged again

    official = tmp_path / "official"
    run_cli("export", str(killed), "--format", "official", "--out", str(official))
    assert (official / "pytorch_model.bin").is_file()
    assert LanguageBind.from_pretrained(official).modalities == ["image"]


@pytest.mark.slow
def test_ddp_two_ranks_equal_one_process_with_twice_the_batch(tmp_path: Path) -> None:
    config = _config(tmp_path, "manifest", max_steps=6, save_every=6, patch_dropout=0.25)
    run_cli("train", "--config", str(config), "--out", str(tmp_path / "single"), "--set", "batch_size=8")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "languagebind", "train", "--config", str(config), "--out", str(tmp_path / "ddp"),
                           "--set", "batch_size=4"], env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    difference = max_difference(final_weights(tmp_path / "ddp"), final_weights(tmp_path / "single"))
    print("DDP vs single process max parameter difference:", difference)
    assert difference <= 1e-5
    single = (tmp_path / "single" / "metrics.jsonl").read_text().splitlines()
    ddp = (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()
    assert len(single) == len(ddp) == 6


def test_shipped_tiny_config_runs_on_generated_data(tmp_path: Path) -> None:
    out = run_cli("train", "--config", "configs/train/tiny.yaml", "--out", str(tmp_path / "run"), "--set",
                  "max_steps=3", "--set", "modality=thermal", "--set", "train_data=synthetic:tiny:train:official",
                  "--set", "val_data=synthetic:tiny:val:shards")
    assert "trained 3 steps" in out.stdout
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2, 3] and lines[-1]["val_items"] == 4
