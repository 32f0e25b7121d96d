"""Modality towers: patch geometry -> shared encoder -> pooled CLS -> projection.

Stages are separate methods (``embed``, ``encode``, ``pool``, ``project``) so each can be tested alone.
The tower's token module is the one its modality's spec names (``languagebind.registry``); the default,
``PatchEmbed``, takes ``(B, C, H, W)`` still items (pictures, depth maps, a mel "image") and ``(B, C, T, H, W)``
clips. Without temporal layers a one-frame clip equals its picture.
"""

from __future__ import annotations

import torch
from torch import nn

from languagebind.model.config import VisionConfig
from languagebind.model.lora import apply_lora
from languagebind.model.transformer import Encoder
from languagebind.registry import get_modality


class PatchEmbed(nn.Module):
    """Non-overlapping patches -> tokens, with CLS and learned absolute positions.

    ``tube_size == 0``: a 2-D conv applied per frame, one shared CLS embedding (D,).
    ``tube_size >= 1``: a 3-D conv over (tube, p, p) and one CLS embedding per frame group (T/tube, D),
    as the official Video V1.5 (``clip_type="vl_new"``).
    """

    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        d, p = cfg.transformer.width, cfg.patch_size
        self.tube_size = cfg.tube_size
        if self.tube_size:
            self.proj: nn.Module = nn.Conv3d(cfg.num_channels, d, (self.tube_size, p, p),
                                             (self.tube_size, p, p), bias=False)
            self.class_embedding = nn.Parameter(torch.zeros(cfg.num_frames // self.tube_size, d))
        else:
            self.proj = nn.Conv2d(cfg.num_channels, d, p, p, bias=False)
            self.class_embedding = nn.Parameter(torch.zeros(d))
        self.position_embedding = nn.Parameter(torch.zeros(cfg.num_positions, d))

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, int]:
        """pixels (B, C, H, W) or (B, C, T, H, W) -> tokens (B*T', N+1, D) and T' (frames after tubes)."""
        if pixels.dim() == 4:
            pixels = pixels.unsqueeze(2)
        if pixels.dim() != 5:
            raise ValueError(f"expected a (B,C,H,W) or (B,C,T,H,W) tensor, got shape {tuple(pixels.shape)}")
        b, c, t = pixels.shape[:3]
        if self.tube_size:
            x = self.proj(pixels)  # (B, D, T', gh, gw)
            frames = x.shape[2]
            x = x.flatten(3).permute(0, 2, 3, 1).reshape(b * frames, -1, x.shape[1])  # (B*T', N, D)
            cls = self.class_embedding[:frames].unsqueeze(0).expand(b, -1, -1).reshape(b * frames, 1, -1)
        else:
            frames = t
            x = self.proj(pixels.transpose(1, 2).reshape(b * t, c, *pixels.shape[3:]))  # (B*T, D, gh, gw)
            x = x.flatten(2).transpose(1, 2)
            cls = self.class_embedding.expand(b * t, 1, -1)
        x = torch.cat([cls.to(x.dtype), x], dim=1)
        return x + self.position_embedding.to(x.dtype), frames


def token_module(cfg: VisionConfig) -> nn.Module:
    """The token module the modality's spec names (``PatchEmbed`` unless it names another), built for ``cfg``."""
    return get_modality(cfg.modality).resolve("tokens")(cfg)


class VisionTower(nn.Module):
    """A modality tower: ``embed`` -> ``encode`` -> ``pool`` -> ``project``."""

    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        self.config = cfg
        t = cfg.transformer
        self.embeddings = token_module(cfg)
        self.pre_layrnorm = nn.LayerNorm(t.width, eps=t.eps)  # HF's spelling, kept for the key map
        temporal_frames = cfg.num_frames // max(cfg.tube_size, 1) if cfg.temporal else 0
        self.encoder = Encoder(t, num_frames=temporal_frames)
        if cfg.lora is not None:
            apply_lora(self.encoder, cfg.lora)
        self.post_layernorm = nn.LayerNorm(t.width, eps=t.eps)
        self.projection = nn.Linear(t.width, cfg.projection_dim, bias=False)

    def embed(self, pixels: torch.Tensor) -> tuple[torch.Tensor, int]:
        """A batch of preprocessed items -> pre-normed tokens (B*T, N+1, D) and T (the token module's job)."""
        tokens, frames = self.embeddings(pixels)
        return self.pre_layrnorm(tokens), frames

    def encode(self, tokens: torch.Tensor, frames: int) -> torch.Tensor:
        """Run the shared transformer (with temporal layers when configured)."""
        return self.encoder(tokens, num_frames=frames)

    def pool(self, hidden: torch.Tensor, frames: int) -> torch.Tensor:
        """post-LN of each frame's CLS token, averaged over frames -> (B, D)."""
        cls = self.post_layernorm(hidden[:, 0])
        return cls.view(-1, frames, cls.shape[-1]).mean(1)

    def project(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.projection(pooled)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Unnormalised features (B, P)."""
        tokens, frames = self.embed(pixels)
        return self.project(self.pool(self.encode(tokens, frames), frames))

    def intermediates(self, pixels: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every stage's output, named, for parity tests that pinpoint where numbers drift."""
        tokens, frames = self.embed(pixels)
        hidden = self.encode(tokens, frames)
        pooled = self.pool(hidden, frames)
        return {"embedded": tokens, "last_hidden_state": hidden, "pooled": pooled,
                "features": self.project(pooled)}
