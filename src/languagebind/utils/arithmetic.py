"""Embedding arithmetic: one query made of several modalities (ImageBind's "composing modalities").

``combine_embeddings({"video": v, "audio": a}, {"video": 1.0, "audio": 1.0})`` is

    normalize( sum_m  w_m * normalize(e_m) )

row by row: every modality's embedding is first put on the unit sphere (so a modality counts by its weight,
not by the length of its raw features), the weighted sum is taken, and the sum is put back on the unit
sphere so it can be compared by cosine with anything in the shared space. Equal weights (the default) give
the normalised mean of the unit embeddings. A negative weight subtracts a modality (``image - text``).

With weights ``exp(logit_scale_m)`` the sum equals the sum of the official top-level wrapper's
``use_temp=True`` outputs (docs/evaluation.md, "Combined queries").
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from languagebind.errors import InputError

# Rows whose weighted sum is shorter than this cannot be put back on the unit sphere.
MIN_NORM = 1e-6


def combine_weights(modalities: list[str], weights: Mapping[str, float] | None) -> dict[str, float]:
    """The weight of each modality: ``weights`` (every modality named, finite, not all zero) or 1 each."""
    if weights is None:
        return dict.fromkeys(modalities, 1.0)
    unknown = sorted(set(weights) - set(modalities))
    missing = [m for m in modalities if m not in weights]
    if unknown or missing:
        problem = f"unknown: {', '.join(unknown)}" if unknown else f"missing: {', '.join(missing)}"
        raise InputError("weights", f"need one weight per combined modality ({', '.join(modalities)}); {problem}")
    out = {}
    for modality in modalities:
        try:
            value = float(weights[modality])
        except (TypeError, ValueError) as err:
            raise InputError("weights", f"{modality}: {weights[modality]!r} is not a number") from err
        if not math.isfinite(value):
            raise InputError("weights", f"{modality}: the weight must be finite, got {value}")
        out[modality] = value
    if not any(out.values()):
        raise InputError("weights", "all weights are zero")
    return out


def combine_embeddings(embeddings: Mapping[str, torch.Tensor], weights: Mapping[str, float] | None = None
                       ) -> torch.Tensor:
    """``{modality: (B, P) or (P,) embeddings}`` -> (B, P) float32 unit rows; see the module docstring.

    All inputs have the same width and the same number of rows, except that a single row (shape ``(P,)`` or
    ``(1, P)``) is broadcast over the others (an image batch + one text). Raises ``InputError`` on an empty
    mapping, mismatched shapes, non-finite values, a zero-length row, or a row whose sum cancels out.
    """
    if not embeddings:
        raise InputError("combine", "no embeddings to combine")
    tensors = {m: torch.as_tensor(e).detach().float() for m, e in embeddings.items()}
    tensors = {m: e.unsqueeze(0) if e.dim() == 1 else e for m, e in tensors.items()}
    for modality, emb in tensors.items():
        if emb.dim() != 2 or emb.shape[1] == 0:
            raise InputError(modality, f"expected (B, P) embeddings, got shape {tuple(emb.shape)}")
        if not torch.isfinite(emb).all():
            raise InputError(modality, "embeddings hold NaN or infinite values")
    widths = {e.shape[1] for e in tensors.values()}
    rows = {e.shape[0] for e in tensors.values()} - {1}
    if len(widths) != 1 or len(rows) > 1:
        shapes = ", ".join(f"{m} {tuple(e.shape)}" for m, e in tensors.items())
        raise InputError("combine", f"embeddings must share their width and row count (or be one row): {shapes}")
    w = combine_weights(list(tensors), weights)
    total = None
    for modality, emb in tensors.items():
        norms = emb.norm(dim=1, keepdim=True)
        if (norms < MIN_NORM).any():
            raise InputError(modality, "an embedding has zero length and cannot be normalised")
        term = w[modality] * (emb / norms)
        total = term if total is None else total + term
    assert total is not None
    length = total.norm(dim=1, keepdim=True)
    if (length < MIN_NORM).any():
        raise InputError("combine", "the weighted sum is zero for some row (the modalities cancel out)")
    return total / length
