"""``LanguageBindModel``: one language tower and a ``ModuleDict`` of modality towers in one space."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from languagebind.model.config import CheckpointConfig
from languagebind.model.lora import LoRALinear
from languagebind.model.text import CLIPTextTower, build_text_tower
from languagebind.model.transformer import TemporalMixer
from languagebind.model.vision import PatchEmbed, VisionTower


class LanguageBindModel(nn.Module):
    """Text tower + modality towers + one learned log temperature per modality.

    All released checkpoints share the frozen text tower, so it is held once (``text``). A checkpoint
    whose text weights differ keeps its own in ``extra_text[modality]``.
    """

    def __init__(self, configs: dict[str, CheckpointConfig], text: nn.Module | None = None) -> None:
        super().__init__()
        if not configs:
            raise ValueError("at least one modality config is needed")
        first = next(iter(configs.values()))
        self.configs = dict(configs)
        self.text = text if text is not None else build_text_tower(first.text)
        self.extra_text = nn.ModuleDict()
        self.towers = nn.ModuleDict({m: VisionTower(c.vision) for m, c in configs.items()})
        self.logit_scales = nn.ParameterDict(
            {m: nn.Parameter(torch.tensor(float(c.logit_scale_init))) for m, c in configs.items()})
        for modality, cfg in configs.items():
            if cfg.vision.projection_dim != first.text.projection_dim:
                raise ValueError(f"{modality}: projection {cfg.vision.projection_dim} != text "
                                 f"{first.text.projection_dim}")

    @property
    def modalities(self) -> list[str]:
        return list(self.towers.keys())

    def text_tower(self, modality: str | None = None) -> nn.Module:
        """The text tower bound to ``modality`` (the shared one unless that checkpoint brought its own)."""
        if modality is not None and modality in self.extra_text:
            return self.extra_text[modality]
        return self.text

    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                    modality: str | None = None, normalize: bool = True) -> torch.Tensor:
        features = self.text_tower(modality)(input_ids, attention_mask)
        return F.normalize(features, dim=-1) if normalize else features

    def encode_modality(self, modality: str, pixels: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        features = self.towers[modality](pixels)
        return F.normalize(features, dim=-1) if normalize else features


@torch.no_grad()
def init_weights(module: nn.Module, generator: torch.Generator | None = None) -> None:
    """CLIP-style random initialisation (tests, benchmarks, training from scratch); a module with its own
    ``init_weights(generator)`` (a registered modality's token module) is filled by it, after the defaults."""

    def normal(t: torch.Tensor, std: float) -> None:  # in place: no temporary as large as the tensor
        torch.randn(t.shape, generator=generator, out=t.data).mul_(std)

    own = []
    for m in module.modules():
        if callable(getattr(m, "init_weights", None)):  # a registered modality's own token module: last
            own.append(m)
        if isinstance(m, LoRALinear):
            normal(m.lora_A, 1.0 / math.sqrt(m.in_features))
            m.lora_B.zero_()
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            fan_in = m.weight[0].numel()
            normal(m.weight, fan_in ** -0.5)
            if m.bias is not None:
                m.bias.zero_()
        elif isinstance(m, nn.LayerNorm):
            m.weight.fill_(1.0)
            m.bias.zero_()
        elif isinstance(m, nn.Embedding):
            normal(m.weight, 0.02)
        elif isinstance(m, PatchEmbed) or _has_cls_and_positions(m):
            normal(m.class_embedding, m.class_embedding.shape[-1] ** -0.5)
            normal(m.position_embedding, 0.02)
        elif isinstance(m, TemporalMixer):
            normal(m.embedding, 0.02)
        elif isinstance(m, CLIPTextTower):
            normal(m.position_embedding, 0.01)
    for m in own:
        m.init_weights(generator)


def _has_cls_and_positions(module: nn.Module) -> bool:
    """A token module following ``PatchEmbed``'s names (``class_embedding``, ``position_embedding``)."""
    return all(isinstance(getattr(module, name, None), nn.Parameter)
               for name in ("class_embedding", "position_embedding"))


def checkpoint_view(model: LanguageBindModel, modality: str) -> nn.Module:
    """A module whose ``state_dict`` is one checkpoint's, in our names (``logit_scale``, ``text.*``,
    ``vision.*``), sharing parameters with ``model``. A Hugging Face text tower is not part of it."""
    view = nn.Module()
    text = model.text_tower(modality)
    if isinstance(text, CLIPTextTower):
        view.text = text
    view.vision = model.towers[modality]
    view.logit_scale = model.logit_scales[modality]
    return view
