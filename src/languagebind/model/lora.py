"""LoRA adapters (peft-compatible math): kept as separate weights for training, merged for inference."""

from __future__ import annotations

import torch
from torch import nn

from languagebind.model.config import LoraConfig


class LoRALinear(nn.Linear):
    """``y = x W^T + b + (dropout(x) A^T) B^T * alpha / r`` with A: (r, in), B: (out, r).

    Subclasses ``nn.Linear`` so the base weight keeps its key (``...q_proj.weight``); the adapters add
    ``...q_proj.lora_A`` and ``...q_proj.lora_B``. B starts at zero (peft), so a fresh adapter is a no-op.
    """

    def __init__(self, base: nn.Linear, cfg: LoraConfig) -> None:
        super().__init__(base.in_features, base.out_features, bias=base.bias is not None,
                         device=base.weight.device, dtype=base.weight.dtype)
        self.weight = base.weight
        self.bias = base.bias
        self.r, self.scaling = cfg.r, cfg.scaling
        self.lora_A = nn.Parameter(torch.empty(cfg.r, self.in_features, dtype=base.weight.dtype))
        self.lora_B = nn.Parameter(torch.zeros(self.out_features, cfg.r, dtype=base.weight.dtype))
        nn.init.kaiming_uniform_(self.lora_A, a=5**0.5)
        self.dropout = nn.Dropout(cfg.dropout) if cfg.dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = super().forward(x)
        return base + (self.dropout(x) @ self.lora_A.T.to(x.dtype)) @ self.lora_B.T.to(x.dtype) * self.scaling

    def merged(self) -> nn.Linear:
        """A plain ``nn.Linear`` with the adapter folded into the weight."""
        out = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None,
                        device=self.weight.device, dtype=self.weight.dtype)
        with torch.no_grad():
            delta = (self.lora_B.float() @ self.lora_A.float()) * self.scaling
            out.weight.copy_(self.weight.float() + delta)
            if self.bias is not None:
                out.bias.copy_(self.bias)
        return out


def lora_target_names(module: nn.Module, cfg: LoraConfig) -> list[str]:
    """Qualified names of the linears LoRA wraps in a vision tower's encoder (official targets)."""
    names = []
    for name, child in module.named_modules():
        if not isinstance(child, nn.Linear) or name.rsplit(".", 1)[-1] not in cfg.targets:
            continue
        in_temporal = ".temporal." in f".{name}"
        if in_temporal == cfg.temporal_only and (".self_attn." in f".{name}" or in_temporal):
            names.append(name)
    return names


def apply_lora(module: nn.Module, cfg: LoraConfig) -> list[str]:
    """Wrap the target linears of ``module`` (a tower's encoder) in place; returns the wrapped names."""
    names = lora_target_names(module, cfg)
    for name in names:
        parent_name, _, attr = name.rpartition(".")
        parent = module.get_submodule(parent_name) if parent_name else module
        setattr(parent, attr, LoRALinear(getattr(parent, attr), cfg))
    return names


def merge_lora(module: nn.Module) -> int:
    """Fold every LoRA adapter inside ``module`` into its base weight, in place; returns how many."""
    wrapped = [name for name, child in module.named_modules() if isinstance(child, LoRALinear)]
    for name in wrapped:
        parent_name, _, attr = name.rpartition(".")
        parent = module.get_submodule(parent_name) if parent_name else module
        setattr(parent, attr, getattr(parent, attr).merged())
    return len(wrapped)


def lora_parameters(module: nn.Module) -> list[nn.Parameter]:
    """The adapter weights (A and B) inside ``module``."""
    return [p for m in module.modules() if isinstance(m, LoRALinear) for p in (m.lora_A, m.lora_B)]
