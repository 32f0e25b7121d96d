"""``apply_precision``: what ``LanguageBind`` calls to put its model on a device in a precision."""

from __future__ import annotations

import torch
from torch import nn

from languagebind.errors import InputError
from languagebind.precision.auto import auto_precision
from languagebind.precision.cast import convert

PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")


def apply_precision(model: nn.Module, precision: str, device: torch.device) -> str:
    """Move ``model`` to ``device`` in ``precision`` (in place); returns the concrete mode used.

    ``model`` is a ``LanguageBindModel`` (int8 then quantises its ``towers`` only) or any module; the logit
    scales stay float32. Nothing process-wide changes: the allocator tuning is the program's choice
    (``tune_cpu_allocator``), and the int8 engine is set only while layers are quantised.
    """
    if precision not in PRECISIONS:
        raise InputError(precision, f"unknown precision; use one of {', '.join(PRECISIONS)}")
    if precision == "int8" and device.type != "cpu":
        raise InputError(precision, f"int8 (dynamic quantisation) runs on the CPU only, not {device}")
    model.to(device)
    if precision == "auto":
        precision = auto_precision(model, device)
    convert(model, precision)
    return precision
