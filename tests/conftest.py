"""Shared test fixtures: paths to ../shared and tiny models saved in the real formats."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from languagebind.api import LanguageBind
from languagebind.model.presets import tiny_config

torch.set_num_threads(min(2, os.cpu_count() or 1))

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LANGUAGEBIND_SHARED", REPO.parent / "shared"))
ASSETS = SHARED / "assets"
FIXTURE = SHARED / "fixtures" / "official-tiny-image"
RELEASED = SHARED / "reference" / "released-configs"


@pytest.fixture(scope="session")
def assets() -> Path:
    if not ASSETS.is_dir():
        pytest.skip(f"shared assets not found at {ASSETS}")
    return ASSETS


@pytest.fixture(scope="session")
def fixture_dir() -> Path:
    if not FIXTURE.is_dir():
        pytest.skip(f"official fixture not found at {FIXTURE}")
    return FIXTURE


@pytest.fixture(scope="session")
def released_dir() -> Path:
    if not RELEASED.is_dir():
        pytest.skip(f"released configs not found at {RELEASED}")
    return RELEASED


@pytest.fixture(scope="session")
def hf_clip(tmp_path_factory) -> tuple[Path, object]:
    """A tiny random HF ``CLIPModel`` saved with ``save_pretrained`` (the official recipe's starting point)."""
    transformers = pytest.importorskip("transformers")
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
