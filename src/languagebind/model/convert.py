"""The one table between official (HF CLIP / LanguageBind / peft) key names and ours.

Ours, for one checkpoint: ``logit_scale``, ``text.*`` (``CLIPTextTower``) and ``vision.*`` (``VisionTower``).
LoRA keys come in two peft spellings, both read: 0.4 (``...q_proj.weight``, ``...q_proj.lora_A.default.weight``
under ``vision_model.encoder.base_model.model.``) and newer (``...q_proj.base_layer.weight``). We write 0.4's.
``position_ids`` buffers are dropped on reading and written on export (transformers 4.30 saves them).
"""

from __future__ import annotations

import re

import torch

# (official name, our name): exact names, or prefixes when they end in "."; "{i}" is a layer index.
# Order matters: the first matching entry wins (temporal keys before the generic encoder prefix).
_NAMES: tuple[tuple[str, str], ...] = (
    ("logit_scale", "logit_scale"),
    ("text_model.embeddings.token_embedding.", "text.token_embedding."),
    ("text_model.embeddings.position_embedding.weight", "text.position_embedding"),
    ("text_model.encoder.", "text.encoder."),
    ("text_model.final_layer_norm.", "text.final_layer_norm."),
    ("text_projection.weight", "text.projection.weight"),
    ("vision_model.embeddings.patch_embedding.weight", "vision.embeddings.proj.weight"),
    ("vision_model.embeddings.class_embedding", "vision.embeddings.class_embedding"),
    ("vision_model.embeddings.position_embedding.weight", "vision.embeddings.position_embedding"),
    ("vision_model.pre_layrnorm.", "vision.pre_layrnorm."),
    ("vision_model.encoder.layers.{i}.temporal_embedding", "vision.encoder.layers.{i}.temporal.embedding"),
    ("vision_model.encoder.layers.{i}.temporal_layer_norm1.", "vision.encoder.layers.{i}.temporal.norm."),
    ("vision_model.encoder.layers.{i}.temporal_attn.", "vision.encoder.layers.{i}.temporal.attn."),
    ("vision_model.encoder.", "vision.encoder."),
    ("vision_model.post_layernorm.", "vision.post_layernorm."),
    ("visual_projection.weight", "vision.projection.weight"),
)


def _rule(source: str, target: str) -> tuple[str, str]:
    pattern = "^" + re.escape(source).replace(r"\{i\}", r"(\d+)") + ("" if source.endswith(".") else "$")
    return pattern, target.replace("{i}", r"\1")


_TABLE = tuple(_rule(official, ours) for official, ours in _NAMES)
_REVERSE = tuple(_rule(ours, official) for official, ours in _NAMES)
_DROPPED = re.compile(r"^(text|vision)_model\.embeddings\.position_ids$")
_PEFT_PREFIX = "vision_model.encoder.base_model.model."


def _rename(key: str, table: tuple[tuple[str, str], ...]) -> str | None:
    for pattern, replacement in table:
        new, count = re.subn(pattern, replacement, key)
        if count:
            return new
    return None


def official_to_ours(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Rename an official/HF state dict to ours. Returns (renamed, keys that match no rule)."""
    out: dict[str, torch.Tensor] = {}
    unknown: list[str] = []
    for key, value in state.items():
        if _DROPPED.match(key):
            continue
        name = key
        if name.startswith(_PEFT_PREFIX):
            name = "vision_model.encoder." + name[len(_PEFT_PREFIX):]
        name = name.replace(".base_layer.", ".")
        name = re.sub(r"\.(lora_[AB])\.default\.weight$", r".\1", name)
        new = _rename(name, _TABLE)
        if new is None:
            unknown.append(key)
        else:
            out[new] = value
    return out, unknown


def ours_to_official(state: dict[str, torch.Tensor], lora: bool, text_positions: int | None = None,
                     vision_positions: int | None = None) -> dict[str, torch.Tensor]:
    """Rename our single-checkpoint state dict to the official one (peft 0.4 naming when ``lora``)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        name = _rename(key, _REVERSE)
        if name is None:
            raise KeyError(f"no official name for {key!r}")
        if lora and name.startswith("vision_model.encoder."):
            name = _PEFT_PREFIX + name[len("vision_model.encoder."):]
            name = re.sub(r"\.(lora_[AB])$", r".\1.default.weight", name)
        out[name] = value
    if text_positions:
        out["text_model.embeddings.position_ids"] = torch.arange(text_positions).unsqueeze(0)
    if vision_positions:
        out["vision_model.embeddings.position_ids"] = torch.arange(vision_positions).unsqueeze(0)
    return out
