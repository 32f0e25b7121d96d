"""`languagebind embed DIR --out OUT` as real processes: kill -9 half-way and resume; a 2-process torchrun run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from languagebind.collection.embed import iter_files
from languagebind.collection.store import CollectionReader
from tests.collection.conftest import add_corrupt, make_images

pytestmark = pytest.mark.slow


def embed_command(root: Path, out: Path, checkpoint: Path, *launcher: str) -> list[str]:
    runner = list(launcher) or [sys.executable]
    return [*runner, "-m", "languagebind", "embed", str(root), "--out", str(out), "--checkpoint", str(checkpoint),
            "--shard-size", "50", "--batch-size", "25", "--device", "cpu", "--no-progress"]


def finished_shards(out: Path) -> dict[str, tuple[int, int]]:
    """name -> (inode, mtime) of the shard files whose shard is finished (its .npy exists)."""
    stems = {p.stem for p in out.glob("shard-*.npy")}
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("shard-*")
            if p.name.split(".")[0] in stems}


def test_killed_half_way_resumes_without_recomputing(tmp_path: Path, tiny_checkpoint: Path) -> None:
    root = tmp_path / "data"
    make_images(root, 2000)
    bad = add_corrupt(root / "d03" / "img0100.bad.png")
    out, reference = tmp_path / "killed", tmp_path / "uninterrupted"
    command = embed_command(root, out, tiny_checkpoint)

    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(list(out.glob("shard-*.npy"))) < 8:  # of 41 shards
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = finished_shards(out)
    done = sum(name.endswith(".npy") for name in before)
    assert 8 <= done < 41, done

    resumed = subprocess.run(command, capture_output=True, text=True, check=True)
    assert f"{done} were finished before" in resumed.stdout
    bad_shard = [p.name for p in iter_files(root, (".png",))].index(bad.name) // 50
    reported_again = f"skipped {bad.relative_to(root).as_posix()}" in resumed.stderr
    assert reported_again == (f"shard-{bad_shard:06d}.npy" not in before)
    after = finished_shards(out)
    assert {name: after[name] for name in before} == before  # finished shards untouched (same inode, same mtime)

    subprocess.run(embed_command(root, reference, tiny_checkpoint), capture_output=True, check=True)
    resumed_reader, reference_reader = CollectionReader(out), CollectionReader(reference)
    assert resumed_reader.complete and resumed_reader.ids() == reference_reader.ids()
    assert len(resumed_reader.ids()) == 2000
    np.testing.assert_array_equal(resumed_reader.embeddings(), reference_reader.embeddings())
    assert [r["id"] for r in resumed_reader.failures()] == [bad.relative_to(root).as_posix()]


def test_two_process_torchrun_equals_one_process(tmp_path: Path, tiny_checkpoint: Path) -> None:
    root = tmp_path / "data"
    make_images(root, 240)
    single, shared = tmp_path / "single", tmp_path / "torchrun"
    subprocess.run(embed_command(root, single, tiny_checkpoint), capture_output=True, check=True)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                "--no-python", sys.executable]
    result = subprocess.run(embed_command(root, shared, tiny_checkpoint, *torchrun), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rank 0/2" in result.stdout and "rank 1/2" in result.stdout
    one, two = CollectionReader(single), CollectionReader(shared)
    assert two.complete and two.ids() == one.ids()
    np.testing.assert_allclose(two.embeddings(), one.embeddings(), rtol=0, atol=1e-6)
