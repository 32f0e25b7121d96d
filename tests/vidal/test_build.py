"""End to end with configs/build/tiny.yaml on generated videos: statuses, determinism, resume, retry."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from languagebind.data.shards import tar_samples
from languagebind.errors import ConfigError
from languagebind.utils.io import read_jsonl
from languagebind.vidal.thermal import ThermalTranslation
from tests.vidal.conftest import GOOD_CLIPS, SHARD_SIZE, TINY_CONFIG, run_build, shard_bytes


def test_every_input_has_a_status(reference: Path, small_corpus: tuple[Path, dict[str, str]]) -> None:
    statuses = {r["id"]: r for r in read_jsonl(reference / "status.jsonl")}
    expected = small_corpus[1]
    assert set(statuses) == set(expected)
    for name, outcome in expected.items():
        record = statuses[name]
        assert (record["status"] if outcome == "ok" else record["reason"]) == outcome, record
        if outcome != "ok":
            assert record["status"] == "filtered" and record["detail"] and record["stage"] == "probe"
    manifest = read_jsonl(reference / "manifest.jsonl")
    assert [m["id"] for m in manifest] == sorted(k for k, v in expected.items() if v == "ok")
    stats = read_jsonl(reference / "status.jsonl")
    assert len(stats) == len(expected)


def test_shards_load_through_the_trainer_data_path(reference: Path) -> None:
    sources = pytest.importorskip("languagebind.data.sources")
    loading = pytest.importorskip("languagebind.data.pairs")
    from languagebind.data.text import TextSampler
    from languagebind.processing.processor import ProcessorConfig

    shards = sources.open_source(reference / "shards")
    for modality, shape in (("video", (3, 8, 224, 224)), ("depth", (3, 224, 224)), ("thermal", (3, 224, 224))):
        loader = loading.PairLoader(modality, ProcessorConfig(), TextSampler.from_spec("polished_caption"),
                                    train=False)
        skipped: list = []
        loaded = list(sources.iter_samples(shards, loader, skipped=skipped))
        assert len(loaded) == GOOD_CLIPS and not skipped, skipped
        assert tuple(loaded[0].pixels.shape) == shape


def test_two_builds_are_byte_identical(reference: Path, tiny_models: Path,
                                       small_corpus: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    run_build({"models_dir": str(tiny_models)}, small_corpus[0], tmp_path, shard_size=SHARD_SIZE)
    assert shard_bytes(tmp_path) == shard_bytes(reference)
    assert (tmp_path / "manifest.jsonl").read_bytes() == (reference / "manifest.jsonl").read_bytes()


def test_rerun_skips_done_shards(reference: Path, tiny_models: Path, small_corpus: tuple[Path, dict[str, str]]
                                 ) -> None:
    before = {p: p.stat().st_mtime_ns for p in (reference / "stats").iterdir()}
    result, log = run_build({"models_dir": str(tiny_models)}, small_corpus[0], reference, shard_size=SHARD_SIZE)
    assert result.processed == 0 and "5 done, 0 to build" in log
    assert {p: p.stat().st_mtime_ns for p in (reference / "stats").iterdir()} == before


def test_another_config_in_the_same_out_is_refused(reference: Path, tiny_models: Path,
                                                   small_corpus: tuple[Path, dict[str, str]]) -> None:
    with pytest.raises(ConfigError, match="different config"):
        run_build({"models_dir": str(tiny_models)}, small_corpus[0], reference, shard_size=3)


def test_retry_failed_reruns_only_the_failed_inputs(reference: Path, tiny_models: Path,
                                                    small_corpus: tuple[Path, dict[str, str]], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    original = ThermalTranslation.process
    seen: list[str] = []

    def flaky(self: ThermalTranslation, batch: list) -> None:
        seen.extend(s.id for s in batch)
        if any(s.id == "clip0003" for s in batch):
            raise RuntimeError("CUDA out of memory (simulated)")
        original(self, batch)

    monkeypatch.setattr(ThermalTranslation, "process", flaky)
    result, log = run_build({"models_dir": str(tiny_models)}, small_corpus[0], tmp_path, shard_size=SHARD_SIZE)
    failed = [r for r in read_jsonl(tmp_path / "status.jsonl") if r["status"] == "failed"]
    assert [(r["id"], r["reason"], r["stage"]) for r in failed] == [("clip0003", "RuntimeError", "thermal")]
    assert "simulated" in failed[0]["detail"] and "--retry-failed" in log
    monkeypatch.setattr(ThermalTranslation, "process", lambda self, batch: (seen.extend(s.id for s in batch),
                                                                             original(self, batch))[1])
    seen.clear()
    result, log = run_build({"models_dir": str(tiny_models)}, small_corpus[0], tmp_path, shard_size=SHARD_SIZE,
                            retry_failed=True)
    assert seen == ["clip0003"] and result.processed == 1
    assert result.summary["failed"] == 0 and result.summary["ok"] == GOOD_CLIPS
    # Every other sample is byte-identical; the retried one has the same members (its model outputs may differ
    # in the last bit: it ran in a batch of its own).
    for tar in ("shards/shard-000000.tar", "shards/shard-000001.tar", "official/00001.tar"):
        merged, clean = tar_samples(tmp_path / tar), tar_samples(reference / tar)
        assert list(merged) == list(clean)
        retried, fresh = merged.pop("clip0003", []), clean.pop("clip0003", [])
        assert merged == clean
        assert [name for name, _ in retried] == [name for name, _ in fresh]
    assert read_jsonl(tmp_path / "status.jsonl") == read_jsonl(reference / "status.jsonl")


def test_dry_run_writes_nothing(tiny_models: Path, small_corpus: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    result, log = run_build({"models_dir": str(tiny_models)}, small_corpus[0], tmp_path / "out", dry_run=True)
    assert "20 inputs in 2 shards of 16: 0 done, 2 to build" in log and "depth-glpn" in log
    assert not (tmp_path / "out").exists() and result.processed == 0
    with pytest.raises(ConfigError, match="does not exist"):
        run_build({"models_dir": str(tmp_path / "none")}, small_corpus[0], tmp_path / "out", dry_run=True)


def test_kill_9_then_rerun_equals_an_uninterrupted_build(reference: Path, tiny_models: Path,
                                                        small_corpus: tuple[Path, dict[str, str]],
                                                        tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [sys.executable, "-m", "languagebind", "build", "--config", str(TINY_CONFIG), "--input",
               str(small_corpus[0]), "--out", str(out), "--models-dir", str(tiny_models),
               "--shard-size", str(SHARD_SIZE), "--no-progress"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if len(list((out / "stats").glob("*.json")) if (out / "stats").is_dir() else []) >= 2:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the build finished before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done_before = {p.name: p.stat().st_mtime_ns for p in (out / "stats").glob("*.json")}
    assert 2 <= len(done_before) < 5
    result, _ = run_build({"models_dir": str(tiny_models)}, small_corpus[0], out, shard_size=SHARD_SIZE)
    assert result.processed == 5 - len(done_before)
    assert {n: (out / "stats" / n).stat().st_mtime_ns for n in done_before} == done_before
    assert shard_bytes(out) == shard_bytes(reference)
    assert (out / "manifest.jsonl").read_bytes() == (reference / "manifest.jsonl").read_bytes()
    assert not list(out.glob("*/.*.tmp"))
