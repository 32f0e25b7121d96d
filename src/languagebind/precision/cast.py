"""Converting a model to a concrete mode (fp32, bf16, fp16, int8) and the float dtypes around it."""

from __future__ import annotations

import torch
from torch import nn

from languagebind.precision.device import cpu_has_native_bf16
from languagebind.precision.int8 import quantize_int8
from languagebind.precision.memory import release_free_memory

FLOAT_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def convert(model: nn.Module, mode: str) -> None:
    """Convert ``model`` in place to a concrete ``mode`` (see ``languagebind.precision``).

    Every child except ``logit_scales`` is converted, so the scales stay float32. int8 quantises the ``towers``
    of a ``LanguageBindModel`` (any other module: all its children) and casts the language tower(s) to bf16 where
    the CPU computes bf16 natively.
    """
    parts = [module for name, module in model.named_children() if name != "logit_scales"]
    towers = getattr(model, "towers", None)
    if mode in ("bf16", "fp16"):
        for module in parts:
            module.to(FLOAT_DTYPES[mode])
            release_free_memory()
    elif mode == "int8":
        for module in [towers] if towers is not None else parts:
            quantize_int8(module)
        for module in parts if towers is not None and cpu_has_native_bf16() else []:
            if module is not towers:
                module.to(torch.bfloat16)  # the language tower(s)
                release_free_memory()


def input_dtype(module: nn.Module) -> torch.dtype:
    """The float dtype a module computes in (its first floating parameter's; float32 when it has none)."""
    for param in module.parameters():
        if param.is_floating_point():
            return param.dtype
    return torch.float32


def float32_features(features: torch.Tensor, normalize: bool) -> torch.Tensor:
    """Model output in any precision -> float32 on the CPU, L2-normalised in float32 when ``normalize``."""
    features = features.float().cpu()
    return torch.nn.functional.normalize(features, dim=-1) if normalize else features
