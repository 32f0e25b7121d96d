"""Shared test fixtures: the test data in tests/fixtures and tiny models saved in the real formats.

The data the tests read (sample media, the official tiny image model with its outputs, the released configs) lives in
tests/fixtures, so a fresh clone runs the whole suite. ``LANGUAGEBIND_SHARED=DIR`` reads it from a ``shared`` tree
instead (``DIR/assets``, ``DIR/fixtures/official-tiny-image``, ``DIR/reference/released-configs``). A data folder
that is not there fails the tests that need it; it never skips them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from languagebind.api import LanguageBind
from languagebind.model.presets import tiny_config

torch.set_num_threads(min(2, os.cpu_count() or 1))

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
SHARED = Path(os.environ["LANGUAGEBIND_SHARED"]) if os.environ.get("LANGUAGEBIND_SHARED") else None
ASSETS = SHARED / "assets" if SHARED else FIXTURES / "assets"
FIXTURE = SHARED / "fixtures" / "official-tiny-image" if SHARED else FIXTURES / "official-tiny-image"
RELEASED = SHARED / "reference" / "released-configs" if SHARED else FIXTURES / "released-configs"


@pytest.fixture(autouse=True, scope="session")
def _engine_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """ONNX Runtime exports made by tests go to a temporary cache, never the user's ~/.cache."""
    os.environ.setdefault("LANGUAGEBIND_ENGINE_CACHE", str(tmp_path_factory.mktemp("engine-cache")))


def data_dir(path: Path, what: str) -> Path:
    """``path`` when it is a folder; otherwise the test fails, naming the folder it looked for."""
    if not path.is_dir():
        where = "LANGUAGEBIND_SHARED" if SHARED else "tests/fixtures (part of the repository)"
        pytest.fail(f"{what} not found at {path} (looked in {where})", pytrace=False)
    return path


@pytest.fixture(scope="session")
def assets() -> Path:
    return data_dir(ASSETS, "sample media")


@pytest.fixture(scope="session")
def fixture_dir() -> Path:
    return data_dir(FIXTURE, "official tiny image fixture")


@pytest.fixture(scope="session")
def released_dir() -> Path:
    return data_dir(RELEASED, "released configs")


@pytest.fixture(scope="session")
def hf_clip(tmp_path_factory) -> tuple[Path, object]:
    """A tiny random HF ``CLIPModel`` saved with ``save_pretrained`` (the official recipe's starting point)."""
    import transformers

    config = transformers.CLIPConfig(
        text_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                     "hidden_act": "gelu"},
        vision_config={"hidden_size": 48, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
                       "image_size": 32, "patch_size": 8, "hidden_act": "gelu"},
        projection_dim=16)
    torch.manual_seed(0)
    model = transformers.CLIPModel(config).eval()
    directory = tmp_path_factory.mktemp("clip")
    model.save_pretrained(directory)
    return directory, model


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tiny-image-ckpt")
    LanguageBind.from_config(tiny_config("image"), seed=3).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_model(tiny_checkpoint: Path) -> LanguageBind:
    return LanguageBind.from_pretrained(tiny_checkpoint, device="cpu")
