"""Initialise a modality tower from a CLIP checkpoint, as the official recipe does (build_model.py).

* every CLIP vision weight is copied; the position table is resampled (bicubic, antialias) to the
  modality's grid (audio: 16x16 -> 8x74);
* video: each layer's temporal attention and its norm start as copies of that layer's spatial attention
  and ``layer_norm1``; the temporal embedding starts as ``normal(std=D^-0.5)``;
* 3-D tube patches (Video V1.5): the 2-D kernel in time slice 0, zeros elsewhere; the CLS embedding is
  repeated per frame group;
* LoRA adapters keep their fresh initialisation (B = 0, so the tower starts equal to CLIP).

``init_from_tower`` applies the same rules to start one tower from another trained tower of the same width
(e.g. a video tower from an image tower, as LanguageBind starts every tower from CLIP's image tower); a
different patch size is bridged by resizing the patch kernel (FlexiViT's pseudo-inverse resize).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch

from languagebind.errors import CheckpointError
from languagebind.model.checkpoint import fit_state, read_config, read_weights
from languagebind.model.config import CheckpointConfig, LoraConfig, from_official
from languagebind.model.convert import official_to_ours
from languagebind.model.core import LanguageBindModel, checkpoint_view
from languagebind.registry import get_modality


def config_from_clip(clip_dir: str | Path, modality: str, lora: LoraConfig | None = None,
                     **vision_fields: Any) -> CheckpointConfig:
    """A LanguageBind config for ``modality`` with the sizes of an HF ``CLIPModel`` (or LanguageBind) dir.

    ``vision_fields`` are official ``vision_config`` fields (``num_frames``, ``num_mel_bins``, ``clip_type``...).
    """
    path = Path(clip_dir)
    try:
        data = json.loads((path / "config.json").read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(path, f"cannot read config.json ({err})") from err
    if data.get("model_type") != "clip":
        config = read_config(path)
        if config.modality != modality and not vision_fields:
            config = dataclasses.replace(config, vision=dataclasses.replace(config.vision, modality=modality))
        return config if lora is None else dataclasses.replace(
            config, vision=dataclasses.replace(config.vision, lora=lora))
    # LanguageBind fields of a tower started from a plain CLIP config: the modality's spec (released geometry)
    vision = {**data.get("vision_config", {}), **get_modality(modality).clip_fields, **vision_fields, "lora_r": 0}
    parsed = from_official({**data, "vision_config": vision}, modality)
    if lora is not None:
        parsed = dataclasses.replace(parsed, vision=dataclasses.replace(
            parsed.vision, lora=dataclasses.replace(lora, temporal_only=parsed.vision.temporal)))
    return parsed


@torch.no_grad()
def init_from_clip(model: LanguageBindModel, modality: str, clip_dir: str | Path) -> None:
    """Fill ``model``'s ``modality`` tower (and its text tower) from the checkpoint in ``clip_dir``."""
    raw, file = read_weights(clip_dir)
    state, unknown = official_to_ours(raw)
    if unknown:
        raise CheckpointError(file, f"keys that match no CLIP name: {', '.join(sorted(unknown)[:10])}")
    _load_adapted(model, modality, state, file)


@torch.no_grad()
def init_from_tower(model: LanguageBindModel, modality: str, source: torch.nn.Module,
                    temporal_std: float | None = None) -> None:
    """Start ``model``'s ``modality`` tower from ``source`` (a trained ``VisionTower`` of the same width):
    tensors of equal shape are copied, the rest derived as from CLIP (temporal layers, 3-D kernels, per-frame
    CLS; position tables resampled to the new grid, the patch kernel resized to another patch size). The text
    tower is left as it is.

    ``temporal_std``: std of the new temporal (frame) embeddings instead of the official ``D^-0.5``. At the
    official scale a small tower hardly tells its frames apart at first, and learns the arrow of time (motion
    direction) slowly; see docs/demo.md."""
    state = {f"vision.{k}": v for k, v in source.state_dict().items()}
    _load_adapted(model, modality, state, Path("the source tower"), temporal_std)


def _load_adapted(model: LanguageBindModel, modality: str, state: dict[str, torch.Tensor], source: Path,
                  temporal_std: float | None = None) -> None:
    """Load ``state`` (our names) into the checkpoint view of ``modality``: missing tensors derived by
    ``_adapt``, those it cannot derive kept as they are, geometry tables resampled (``fit_state``)."""
    view = checkpoint_view(model, modality)
    target = view.state_dict()
    config = model.configs[modality]
    state = _adapt(state, target, config, temporal_std)
    view.load_state_dict(fit_state({k: state.get(k, v) for k, v in target.items()}, view, source, config))


def _adapt(state: dict[str, torch.Tensor], target: dict[str, torch.Tensor], config: CheckpointConfig,
           temporal_std: float | None = None) -> dict[str, torch.Tensor]:
    """Derive the tensors a plain CLIP checkpoint lacks (temporal layers, 3-D kernels, per-frame CLS)."""
    out = dict(state)
    width = config.vision.transformer.width
    generator = torch.Generator().manual_seed(0)
    for key, want in target.items():
        if key in out and out[key].shape == want.shape:
            continue
        if ".temporal.attn." in key or ".temporal.norm." in key:
            source = key.replace(".temporal.attn.", ".self_attn.").replace(".temporal.norm.", ".layer_norm1.")
            if source in out:
                out[key] = out[source].clone()
        elif key.endswith(".temporal.embedding") and key not in out:
            std = width ** -0.5 if temporal_std is None else temporal_std
            out[key] = torch.randn(want.shape, generator=generator) * std
        elif key == "vision.embeddings.proj.weight" and key in out and want.dim() == 5 and out[key].dim() == 4:
            kernel = torch.zeros(want.shape, dtype=out[key].dtype)
            kernel[:, :, 0] = out[key]
            out[key] = kernel
        elif key == "vision.embeddings.class_embedding" and key in out and out[key].dim() == 1 and want.dim() == 2:
            out[key] = out[key].unsqueeze(0).repeat(want.shape[0], 1)
    return out
