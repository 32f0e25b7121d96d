"""The one pre-LN transformer shared by the text tower and every modality tower.

Layer names follow HF CLIP (``q_proj``, ``layer_norm1`` ...) only at the leaves, so the key map in
``convert.py`` stays short. Attention runs on ``torch.nn.functional.scaled_dot_product_attention``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from languagebind.model.config import TransformerConfig


def quick_gelu(x: torch.Tensor) -> torch.Tensor:
    """OpenAI CLIP's GELU approximation ``x * sigmoid(1.702 x)``."""
    return x * torch.sigmoid(1.702 * x)


ACTIVATION_FNS = {"gelu": F.gelu, "quick_gelu": quick_gelu}  # "gelu" is the exact erf GELU


class Attention(nn.Module):
    """Multi-head self-attention with separate q/k/v/out projections (HF CLIP layout)."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(width, width)
        self.k_proj = nn.Linear(width, width)
        self.v_proj = nn.Linear(width, width)
        self.out_proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, L, D); mask: bool (B or 1, 1, L, L), True where attention is allowed."""
        b, n, d = x.shape
        q, k, v = (proj(x).view(b, n, self.heads, d // self.heads).transpose(1, 2)
                   for proj in (self.q_proj, self.k_proj, self.v_proj))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, h, L, hd)
        return self.out_proj(out.transpose(1, 2).reshape(b, n, d))


class MLP(nn.Module):
    """fc1 -> activation -> fc2."""

    def __init__(self, width: int, hidden: int, act: str) -> None:
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)
        self.act = ACTIVATION_FNS[act]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class TemporalMixer(nn.Module):
    """Video's per-layer temporal step: add a frame embedding, then attend across frames per token.

    Input and output are ``(B*T, N, D)``; the CLS token takes part like every other token.
    """

    def __init__(self, width: int, heads: int, num_frames: int, eps: float) -> None:
        super().__init__()
        self.embedding = nn.Parameter(torch.zeros(1, num_frames, width))
        self.norm = nn.LayerNorm(width, eps=eps)
        self.attn = Attention(width, heads)

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        bt, n, d = x.shape
        b = bt // num_frames
        x = x.view(b, num_frames, n, d).transpose(1, 2).reshape(b * n, num_frames, d)  # (B*N, T, D)
        x = x + self.embedding[:, :num_frames]  # stays in the residual stream
        x = x + self.attn(self.norm(x))
        return x.view(b, n, num_frames, d).transpose(1, 2).reshape(bt, n, d)


class Block(nn.Module):
    """``x += attn(norm1(x)); x += mlp(norm2(x))``, after the optional injected temporal mixer."""

    def __init__(self, cfg: TransformerConfig, temporal: TemporalMixer | None = None) -> None:
        super().__init__()
        self.temporal = temporal
        self.layer_norm1 = nn.LayerNorm(cfg.width, eps=cfg.eps)
        self.self_attn = Attention(cfg.width, cfg.heads)
        self.layer_norm2 = nn.LayerNorm(cfg.width, eps=cfg.eps)
        self.mlp = MLP(cfg.width, cfg.mlp_dim, cfg.act)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, num_frames: int = 1) -> torch.Tensor:
        if self.temporal is not None:
            x = self.temporal(x, num_frames)
        x = x + self.self_attn(self.layer_norm1(x), mask)
        return x + self.mlp(self.layer_norm2(x))


class Encoder(nn.Module):
    """A stack of blocks; ``make_temporal`` (or None) builds each block's temporal mixer."""

    def __init__(self, cfg: TransformerConfig, num_frames: int = 0) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            Block(cfg, TemporalMixer(cfg.width, cfg.heads, num_frames, cfg.eps) if num_frames else None)
            for _ in range(cfg.layers))
        self.gradient_checkpointing = False

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, num_frames: int = 1) -> torch.Tensor:
        for layer in self.layers:
            if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
                x = checkpoint(layer, x, mask, num_frames, use_reentrant=False)
            else:
                x = layer(x, mask, num_frames)
        return x
