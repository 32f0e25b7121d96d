"""Device and numeric precision for inference.

``fp32`` (default) is faithful to the official numerics. ``bf16`` casts the towers' weights to bfloat16:
fast only where the hardware computes bf16 natively (CUDA, or CPUs with AVX-512 BF16 / AMX); on AVX2-only
CPUs it is several times SLOWER than fp32, so it is never chosen implicitly there.
"""

from __future__ import annotations

import torch
from torch import nn

from languagebind.errors import InputError

PRECISIONS = ("fp32", "bf16")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None`` -> the first CUDA device when there is one, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as err:
        raise InputError(device, f"not a device ({err})") from err


def apply_precision(model: nn.Module, precision: str, device: torch.device) -> nn.Module:
    """Move ``model`` to ``device`` in ``precision``; the logit scales stay float32."""
    if precision not in PRECISIONS:
        raise InputError(precision, f"unknown precision; use one of {', '.join(PRECISIONS)}")
    model.to(device)
    if precision == "bf16":
        for name, module in model.named_children():
            if name != "logit_scales":
                module.to(torch.bfloat16)
    return model
