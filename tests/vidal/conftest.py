"""Fixtures for the builder tests: the tiny models (written once per session) and small video corpora."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tests.vidal.videos import make_corpus

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO / "configs" / "build" / "tiny.yaml"
GOOD_CLIPS = 14


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from languagebind.vidal.tiny_models import make_tiny_models

    directory = tmp_path_factory.mktemp("tiny-models")
    make_tiny_models(directory)
    return directory


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """14 good clips and 6 broken ones (empty, 2 truncated, audio-only, too long, no hashtags)."""
    root = tmp_path_factory.mktemp("corpus")
    return root, make_corpus(root, GOOD_CLIPS)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep --make-tiny-models' record of its last directory out of the user's cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def run_build(config_overrides: dict[str, str], input_path: Path, out: Path, **options: object):
    """Build with configs/build/tiny.yaml; returns (BuildResult, log text)."""
    from languagebind.vidal.builder import build
    from languagebind.vidal.plan import load_config

    shard_size = options.pop("shard_size", None)
    config = load_config(TINY_CONFIG, config_overrides, shard_size=shard_size)
    log = io.StringIO()
    result = build(config, input_path, out, progress=False, log=log, **options)
    return result, log.getvalue()


SHARD_SIZE = 4


def shard_bytes(out: Path) -> dict[str, bytes]:
    """Every tar of a build output, by path relative to it."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.glob("*/*.tar"))}


@pytest.fixture(scope="session")
def reference(tiny_models: Path, small_corpus: tuple[Path, dict[str, str]],
              tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted in-process build of the small corpus (shards of SHARD_SIZE) to compare others with."""
    out = tmp_path_factory.mktemp("reference")
    result, _ = run_build({"models_dir": str(tiny_models)}, small_corpus[0], out, shard_size=SHARD_SIZE)
    assert not result.errors
    return out
