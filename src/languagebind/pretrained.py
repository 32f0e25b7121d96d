"""Assembling a ``LanguageBindModel`` from checkpoint directories or configs (what ``LanguageBind.from_pretrained``
and ``from_config`` do before the model is wrapped): which directories, building the towers (on the meta device
when weights follow), loading each checkpoint so that towers share one text tower where their text weights
agree, and the tokenizer that goes with the text tower.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from languagebind.errors import InputError
from languagebind.model.checkpoint import load_single
from languagebind.model.config import VISION_MODALITIES, CheckpointConfig
from languagebind.model.core import LanguageBindModel, checkpoint_view
from languagebind.model.text import HFTextTower, build_text_tower
from languagebind.precision import prepare_auto, resolve_device
from languagebind.processing import CLIPTokenizer

PathLike = str | Path
Checkpoints = PathLike | Mapping[str, PathLike]


def checkpoint_dirs(checkpoints: Checkpoints) -> dict[str, Path]:
    """One directory (``{"_": dir}``, modality read from its config) or ``{modality: directory}``, checked."""
    if isinstance(checkpoints, (str, Path)):
        return {"_": Path(checkpoints)}
    if not isinstance(checkpoints, Mapping) or not checkpoints:
        raise InputError(checkpoints, "give a checkpoint directory or a non-empty {modality: directory} mapping")
    for m in checkpoints:
        if m not in VISION_MODALITIES:
            raise InputError(m, f"unknown modality; known: {', '.join(VISION_MODALITIES)}")
    return {m: Path(d) for m, d in checkpoints.items()}


def prepare_precision(configs: dict[str, CheckpointConfig], device: str | torch.device | None, precision: str) -> None:
    """Before any weights exist: ``auto`` times its candidate modes for these towers' shape."""
    if precision == "auto":  # time the candidate modes while no weights are in memory
        prepare_auto([c.vision for c in configs.values()], resolve_device(device))


def build_model(configs: dict[str, CheckpointConfig], meta: bool) -> LanguageBindModel:
    """The towers of ``configs`` with one shared text tower; ``meta``: no memory until weights are loaded."""
    first = next(iter(configs.values()))
    text = build_text_tower(first.text) if first.text.kind != "clip" else None
    if not meta:
        return LanguageBindModel(configs, text)
    with torch.device("meta"):
        return LanguageBindModel(configs, text)


def load_into(model: LanguageBindModel, modality: str, directory: Path) -> None:
    """Load one checkpoint; its text weights go to the shared tower, or to its own if they differ."""
    config = model.configs[modality]
    view = checkpoint_view(model, modality)
    state = load_single(directory, view, config)
    text_state = {k[len("text."):]: v for k, v in state.items() if k.startswith("text.")}
    shared = model.text
    if text_state and not is_meta(shared):
        current = shared.state_dict()
        if not all(torch.equal(current[k], v) for k, v in text_state.items()):
            model.extra_text[modality] = build_text_tower(config.text).to_empty(device="cpu")
            model.extra_text[modality].load_state_dict(text_state, assign=True)
        state = {k: v for k, v in state.items() if not k.startswith("text.")}
        view = checkpoint_view(model, modality)
        del view.text
    view.load_state_dict(state, strict=True, assign=True)
    # assign=True replaces the Parameter objects: re-bind the logit scale held by the dict.
    model.logit_scales[modality] = view.logit_scale


def is_meta(module: nn.Module) -> bool:
    return any(p.is_meta for p in module.parameters())


def default_tokenizer(model: LanguageBindModel, directory: Path | None) -> Any:
    """The HF text tower's own tokenizer, else the CLIP tokenizer (from ``directory`` or the bundled vocabulary)."""
    if isinstance(model.text, HFTextTower):
        return model.text.tokenizer
    return CLIPTokenizer.from_dir(directory)
