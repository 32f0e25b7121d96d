"""Time-series tokens (IMU and other sensors): non-overlapping 1-D patches -> one token each, plus CLS and positions.

ImageBind's IMU stem: 2,000 steps x 6 channels cut into 250 patches of 8 steps; each patch's 8 x 6 values
(flattened channel-major) go through one bias-free linear map to the width. A CLS token and learned absolute
positions (``num_patches + 1``) are added, as ``PatchEmbed`` does for images.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from languagebind.errors import ConfigError

if TYPE_CHECKING:
    from languagebind.model.config import VisionConfig


class SeriesPatchEmbed(nn.Module):
    """Signal (B, C, T) -> tokens (B, T / patch + 1, D) and 1 frame; the same interface as ``PatchEmbed``."""

    def __init__(self, width: int, channels: int = 6, patch_size: int = 8, length: int = 2000) -> None:
        super().__init__()
        if min(channels, patch_size, length) < 1:
            raise ValueError("channels, patch_size and length must be positive")
        if length % patch_size:
            raise ValueError(f"length {length} is not a multiple of patch_size {patch_size}")
        self.channels, self.patch_size, self.length = channels, patch_size, length
        self.proj = nn.Linear(channels * patch_size, width, bias=False)
        self.class_embedding = nn.Parameter(torch.empty(width).normal_(std=0.02))
        self.position_embedding = nn.Parameter(torch.empty(self.num_positions, width).normal_(std=0.02))

    @property
    def num_patches(self) -> int:
        return self.length // self.patch_size

    @property
    def num_positions(self) -> int:
        return self.num_patches + 1

    def patches(self, signal: torch.Tensor) -> torch.Tensor:
        """(B, C, T) -> (B, T / patch, C * patch): each patch's values, channel-major."""
        b = signal.shape[0]
        x = signal.reshape(b, self.channels, self.num_patches, self.patch_size)
        return x.permute(0, 2, 1, 3).reshape(b, self.num_patches, self.channels * self.patch_size)

    def forward(self, signal: torch.Tensor) -> tuple[torch.Tensor, int]:
        """signal (B, C, T) -> tokens (B, T / patch + 1, D) and 1."""
        if signal.dim() != 3 or tuple(signal.shape[1:]) != (self.channels, self.length):
            raise ValueError(f"expected a (B, {self.channels}, {self.length}) signal, got shape "
                             f"{tuple(signal.shape)}")
        x = self.proj(self.patches(signal.to(self.class_embedding.dtype)))
        cls = self.class_embedding.expand(x.shape[0], 1, -1)
        return torch.cat([cls, x], dim=1) + self.position_embedding, 1


class SeriesTokens(SeriesPatchEmbed):
    """The token module of a time-series modality (IMU, or any sensor), built from its tower config:
    ``num_channels`` channels, ``image_size`` ``(1, steps)``, ``patch_size`` steps per token."""

    def __init__(self, cfg: VisionConfig) -> None:
        steps = cfg.image_size[1]
        if cfg.image_size[0] != 1 or steps % cfg.patch_size:
            raise ConfigError(f"a time-series tower needs image_size (1, steps) with steps a multiple of patch_size "
                              f"{cfg.patch_size}; got {cfg.image_size}")
        super().__init__(cfg.transformer.width, cfg.num_channels, cfg.patch_size, steps)
