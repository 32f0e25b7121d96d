"""Issue 8 acceptance, through the console script exactly as documented (slow: ~200 videos, several minutes).

``languagebind build --make-tiny-models ./tiny-models`` then ``languagebind build --config
configs/build/tiny.yaml --input VIDEOS --out OUT`` (``./tiny-models`` found from the working directory):
every input accounted for, deterministic, and ``languagebind train`` trains on the shards directly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.vidal.conftest import TINY_CONFIG, shard_bytes
from tests.vidal.videos import make_corpus

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def languagebind(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_CACHE_HOME": str(cwd / "cache")}
    done = subprocess.run([sys.executable, "-m", "languagebind", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_two_hundred_videos_end_to_end(tmp_path: Path) -> None:
    expected = make_corpus(tmp_path / "videos", 200)
    languagebind("build", "--make-tiny-models", "tiny-models", cwd=tmp_path)
    for out in ("out-a", "out-b"):
        languagebind("build", "--config", str(TINY_CONFIG), "--input", "videos", "--out", out, "--workers", "2",
                     cwd=tmp_path)
    out = tmp_path / "out-a"
    stats = json.loads((out / "stats.json").read_text())
    assert (stats["inputs"], stats["ok"], stats["failed"]) == (len(expected), 200, 0)
    assert stats["filtered"] == len(expected) - 200 and sum(stats["reasons"].values()) == stats["filtered"]
    statuses = {json.loads(line)["id"]: json.loads(line) for line in (out / "status.jsonl").read_text().splitlines()}
    assert {k: (v["status"] if v["status"] == "ok" else v["reason"]) for k, v in statuses.items()} == expected
    assert shard_bytes(out) == shard_bytes(tmp_path / "out-b")
    assert set(stats["stages"]) == {"probe", "keyframes", "audio", "depth", "thermal", "keyframe_captions",
                                    "video_caption", "polish", "pack"}
    for modality in ("video", "depth", "thermal", "audio"):
        done = languagebind("train", "--config", str(REPO / "configs" / "train" / "tiny.yaml"), "--out",
                            f"run-{modality}", "--set", f"train_data={out / 'shards'}", "--set", "val_data=null",
                            "--set", f"modality={modality}", "--set", "max_steps=2", "--set", "batch_size=4",
                            "--set", "eval_every=0", "--set", "save_every=2", cwd=tmp_path)
        assert "trained 2 steps" in done.stdout, (modality, done.stdout, done.stderr[-2000:])
