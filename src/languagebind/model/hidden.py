"""Per-layer hidden states of a tower, as the official ``vision_model(pixel_values, output_hidden_states=True)
.hidden_states`` and ``text_model(input_ids, attention_mask, output_hidden_states=True).hidden_states`` give them.

Entry 0 is the encoder's input (modality towers: the patch/CLS embeddings after ``pre_layrnorm``; the CLIP text
tower: token + position embeddings), entry ``i`` the output of layer ``i`` (before any final LayerNorm), so a tower
of L layers has L + 1 entries. Video towers run each frame as its own sequence, with the temporal step at the start
of every layer (inside the layer, so entry 0 carries no temporal embedding); the official code returns them as
``(B*T, N+1, D)``, we return ``(B, T, N+1, D)`` (the same numbers, frames of one clip together). LoRA adapters are
applied as the tower holds them (unmerged, as the official peft model computes; merged after ``merge_lora``).
"""

from __future__ import annotations

import torch
from torch import nn

from languagebind.model.text import CLIPTextTower, HFTextTower
from languagebind.model.vision import VisionTower

TOKEN_CHOICES = ("patch", "all")


def vision_hidden_states(tower: VisionTower, pixels: torch.Tensor, upto: int | None = None,
                         keep_all: bool = True) -> list[torch.Tensor]:
    """(B, C, H, W) -> L + 1 tensors (B, N+1, D); (B, C, T, H, W) -> (B, T', N+1, D) (T' = frames after tubes).

    ``upto``: stop after entry ``upto`` (the layers past it are not run); ``keep_all=False``: return only that
    last entry (no memory for the others)."""
    video = pixels.dim() == 5
    x, frames = tower.embed(pixels)
    states = [x]
    for layer in _layers(tower.encoder.layers, upto):
        x = layer(x, None, frames)
        states = [*states, x] if keep_all else [x]
    if video:
        states = [s.reshape(-1, frames, *s.shape[1:]) for s in states]
    return states


def text_hidden_states(tower: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                       upto: int | None = None, keep_all: bool = True) -> list[torch.Tensor]:
    """(B, L) ids -> layers + 1 tensors (B, L, D), at every position (padding included, as the official code);
    ``upto`` and ``keep_all`` as for ``vision_hidden_states``."""
    if isinstance(tower, HFTextTower):
        mask = attention_mask if attention_mask is not None else torch.ones_like(input_ids)
        states = list(tower.model(input_ids=input_ids, attention_mask=mask, output_hidden_states=True).hidden_states)
        states = states if upto is None else states[:upto + 1]
        return states if keep_all else states[-1:]
    if not isinstance(tower, CLIPTextTower):
        raise TypeError(f"no hidden states for a {type(tower).__name__}")
    x, mask = tower.embed(input_ids, attention_mask)
    states = [x]
    for layer in _layers(tower.encoder.layers, upto):
        x = layer(x, mask)
        states = [*states, x] if keep_all else [x]
    return states


def layer_index(layer: int, count: int) -> int:
    """A Python-style index (``-2``: the second to last) into ``count`` entries -> 0..count-1."""
    index = layer + count if layer < 0 else layer
    if not 0 <= index < count:
        raise IndexError(f"layer {layer} is out of range for {count} hidden states (0..{count - 1} or "
                         f"-{count}..-1)")
    return index


def select_tokens(state: torch.Tensor, tokens: str, cls_tokens: int = 1) -> torch.Tensor:
    """``"all"``, or ``"patch"``: without the CLS token of each frame (the first ``cls_tokens`` positions), as
    Video-LLaVA's ``mm_vision_select_feature="patch"`` does (``[:, 1:]``)."""
    if tokens not in TOKEN_CHOICES:
        raise ValueError(f"tokens must be one of {', '.join(TOKEN_CHOICES)}, not {tokens!r}")
    return state if tokens == "all" else state[..., cls_tokens:, :]


def _layers(layers: nn.ModuleList, upto: int | None) -> list[nn.Module]:
    return list(layers) if upto is None else list(layers)[:upto]
