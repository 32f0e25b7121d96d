"""Build tiny random models and save them in the official format (shared by the model tests)."""

from __future__ import annotations

from pathlib import Path

import torch

from languagebind.model.checkpoint import save_official
from languagebind.model.config import CheckpointConfig
from languagebind.model.core import LanguageBindModel, checkpoint_view, init_weights
from languagebind.model.presets import tiny_config


def random_model(config: CheckpointConfig, seed: int = 0) -> LanguageBindModel:
    model = LanguageBindModel({config.modality: config})
    init_weights(model, torch.Generator().manual_seed(seed))
    with torch.no_grad():  # make LoRA adapters non-trivial so merging is really tested
        for name, p in model.named_parameters():
            if name.endswith("lora_B"):
                p.normal_(0, 0.05, generator=torch.Generator().manual_seed(seed + 1))
    return model.eval()


def save_tiny_official(directory: Path, modality: str, seed: int = 0, **kwargs) -> LanguageBindModel:
    config = tiny_config(modality, **kwargs)
    model = random_model(config, seed)
    save_official(directory, config, checkpoint_view(model, modality).state_dict())
    return model
