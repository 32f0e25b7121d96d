"""The other executors give the local executor's shards byte for byte (slow: they start processes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.vidal.conftest import SHARD_SIZE, run_build, shard_bytes

pytestmark = pytest.mark.slow


def test_process_pool_equals_in_process(reference: Path, tiny_models: Path,
                                        small_corpus: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    result, _ = run_build({"models_dir": str(tiny_models)}, small_corpus[0], tmp_path, shard_size=SHARD_SIZE,
                          workers=2)
    assert not result.errors and result.processed == 5
    assert shard_bytes(tmp_path) == shard_bytes(reference)


def test_ray_executor_equals_local(reference: Path, tiny_models: Path,
                                   small_corpus: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    pytest.importorskip("ray.data")
    result, _ = run_build({"models_dir": str(tiny_models)}, small_corpus[0], tmp_path, shard_size=SHARD_SIZE,
                          executor="ray", workers=2)
    assert not result.errors and result.processed == 5
    assert shard_bytes(tmp_path) == shard_bytes(reference)
    assert (tmp_path / "manifest.jsonl").read_bytes() == (reference / "manifest.jsonl").read_bytes()
