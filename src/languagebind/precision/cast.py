"""Converting a model to a concrete mode (fp32, bf16, fp16, int8) and the float dtypes around it."""

from __future__ import annotations

import torch
from torch import nn

from languagebind.precision.device import cpu_has_native_bf16
from languagebind.precision.int8 import quantize_int8
from languagebind.precision.memory import release_free_memory
from languagebind.precision.packed import pack_bf16_linears

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
            cast_for_inference(module, FLOAT_DTYPES[mode])
    elif mode == "int8":
        for module in [towers] if towers is not None else parts:
            quantize_int8(module)
        if towers is not None:
            language_towers_for_int8(model)


def language_towers_for_int8(model: nn.Module) -> None:
    """In the int8 modes the language tower(s) are not quantised: bf16 where the CPU computes it natively."""
    cast_language_towers(model, language_dtype("int8"))


def language_dtype(mode: str) -> torch.dtype:
    """The dtype a concrete torch ``mode`` leaves the language tower(s) in (int8: bf16 where native, else fp32)."""
    if mode == "int8":
        return torch.bfloat16 if cpu_has_native_bf16() else torch.float32
    return FLOAT_DTYPES.get(mode, torch.float32)


def cast_language_towers(model: nn.Module, dtype: torch.dtype) -> None:
    """The language tower(s) of a ``LanguageBindModel`` (every child but ``towers`` and ``logit_scales``) in
    ``dtype`` (``cast_smallest_first``), freed memory handed back as it goes."""
    for name, module in model.named_children():
        if name not in ("towers", "logit_scales"):
            cast_for_inference(module, dtype)


def cast_for_inference(module: nn.Module, dtype: torch.dtype) -> None:
    """``cast_smallest_first``, then, in bf16 on a CPU that computes it natively, the Linear weights packed once for
    oneDNN (``PackedLinear``: the same outputs, 1.2-2x faster matmuls); freed memory handed back."""
    cast_smallest_first(module, dtype)
    if dtype == torch.bfloat16 and cpu_has_native_bf16():
        pack_bf16_linears(module)
    release_free_memory()


LARGE_COPY = 1 << 24  # bytes: before a copy this large the heap's free pages are handed back first


def cast_smallest_first(module: nn.Module, dtype: torch.dtype) -> None:
    """``module.to(dtype)`` for its floating parameters and buffers, smallest tensor first, and the memory the
    smaller ones freed handed back before each large copy: the largest tensor's copy (CLIP's 49,408 x 768 token
    table, 75 MB in bf16) then does not come on top of the whole model as with ``module.to``, which converts the
    token table first (the freed pieces of the heap are too scattered to hold it)."""
    with torch.no_grad():
        params = [p for p in module.parameters() if p.is_floating_point() and p.dtype != dtype]
        for param in sorted(params, key=lambda p: p.numel()):
            if param.numel() * dtype.itemsize >= LARGE_COPY:
                release_free_memory()
            param.data = param.data.to(dtype)
            if param.grad is not None:
                param.grad = param.grad.to(dtype)
        for child in module.modules():
            for key, buffer in child._buffers.items():
                if buffer is not None and buffer.is_floating_point() and buffer.dtype != dtype:
                    child._buffers[key] = buffer.to(dtype)


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
