"""``apply_precision``: what ``LanguageBind`` calls to put its model on a device in a precision."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from languagebind.errors import InputError
from languagebind.precision.auto import auto_precision
from languagebind.precision.cast import convert, language_towers_for_int8
from languagebind.precision.int8 import quantize_int8
from languagebind.precision.ort import ORT_PRECISIONS, attach

PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8", "ort-fp32", "ort-int8")


def apply_precision(model: nn.Module, precision: str, device: torch.device,
                    fingerprint: Callable[[str], str] | None = None, cache: Path | None = None) -> str:
    """Move ``model`` to ``device`` in ``precision`` (in place); returns the concrete mode used.

    ``model`` is a ``LanguageBindModel`` (int8 then quantises its ``towers`` only) or any module; the logit
    scales stay float32. Nothing process-wide changes: the allocator tuning is the program's choice
    (``tune_cpu_allocator``), and the int8 engine is set only while layers are quantised.
    ONNX Runtime modes (``ort-fp32``, ``ort-int8``) need ``fingerprint(modality)`` (the checkpoint fingerprint,
    the key of the export cache; ``cache`` overrides ``engine_cache_dir()``); a tower whose engine fails stays on
    torch in the matching mode, and if none runs on ONNX Runtime the torch mode is returned.
    """
    if precision not in PRECISIONS:
        raise InputError(precision, f"unknown precision; use one of {', '.join(PRECISIONS)}")
    if (precision == "int8" or precision in ORT_PRECISIONS) and device.type != "cpu":
        raise InputError(precision, f"{precision} runs on the CPU only, not {device}")
    model.to(device)
    if fingerprint is not None:  # taken once per tower, on the weights as they are before any conversion
        fingerprint = functools.cache(fingerprint)
    if precision == "auto":
        precision = auto_precision(model, device, fingerprint)
    if precision in ORT_PRECISIONS:
        return apply_engine(model, precision, fingerprint, cache)
    convert(model, precision)
    return precision


def apply_engine(model: nn.Module, precision: str, fingerprint: Callable[[str], str] | None,
                 cache: Path | None = None) -> str:
    """Each modality tower on ONNX Runtime (falling back to torch per tower); the language tower(s) as the torch
    counterpart mode leaves them (int8: bf16 where the CPU computes it natively, else fp32)."""
    towers, configs = getattr(model, "towers", None), getattr(model, "configs", None)
    if towers is None or configs is None or fingerprint is None:
        raise InputError(precision, "ONNX Runtime modes need a LanguageBindModel and its checkpoint fingerprints")
    mode, engines = ORT_PRECISIONS[precision], 0
    for modality, tower in towers.items():
        if attach(tower, configs[modality].to_dict(), mode, fingerprint(modality), cache) is not None:
            engines += 1
        elif mode == "int8":
            quantize_int8(tower)
    if mode == "int8":
        language_towers_for_int8(model)
    return precision if engines else mode
