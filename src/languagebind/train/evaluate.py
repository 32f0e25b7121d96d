"""Held-out retrieval check during training: R@1 text -> item and item -> text on validation pairs
(``evaluation.metrics``, as a share, not a percentage).

Validation pairs are read in data order with the deterministic processors and a fixed text per item (the
heaviest view present), so the numbers are comparable across evaluations and runs. Chance is ``1 / n``.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import torch

from languagebind.data import DataSource, PairLoader, iter_samples
from languagebind.evaluation.metrics import rank_metrics, target_ranks
from languagebind.train.start import TrainingTower
from languagebind.train.text_cache import TextEmbeddings

Tokenize = Callable[[list[str]], dict[str, torch.Tensor]]


@torch.no_grad()
def heldout_recall(tower: TrainingTower, texts: TextEmbeddings, tokenize: Tokenize, source: DataSource,
                   loader: PairLoader, limit: int, batch_size: int, device: torch.device,
                   autocast: contextlib.AbstractContextManager | None = None) -> dict[str, Any]:
    """``{"val_r1_text_to_item", "val_r1_item_to_text", "val_items", "val_skipped"}`` over up to ``limit`` pairs."""
    skipped: list[tuple[str, str]] = []
    samples = iter_samples(source, loader, limit, skipped=skipped)
    was_training = tower.training
    tower.eval()
    item_parts, text_parts = [], []
    try:
        while chunk := list(itertools.islice(samples, batch_size)):
            pixels = torch.stack([s.pixels for s in chunk]).to(device)
            with autocast if autocast is not None else contextlib.nullcontext():
                item_parts.append(tower(pixels, torch.zeros(len(chunk), dtype=torch.long)).float().cpu())
            strings = [s.text.text for s in chunk]
            tokens = tokenize(strings)
            text_parts.append(texts(strings, tokens["input_ids"], tokens["attention_mask"]).float().cpu())
    finally:
        tower.train(was_training)
    if not item_parts:
        return {"val_items": 0, "val_skipped": len(skipped)}
    items, text = torch.cat(item_parts), torch.cat(text_parts)
    sim = text @ items.T
    target = range(sim.shape[0])
    return {"val_r1_text_to_item": recall_at_1(sim, target), "val_r1_item_to_text": recall_at_1(sim.T, target),
            "val_items": int(sim.shape[0]), "val_skipped": len(skipped)}


def recall_at_1(sim: torch.Tensor, targets: Sequence[int]) -> float:
    """Share (0-1) of rows whose target scores highest (``evaluation.metrics``: ties in the target's favour)."""
    return rank_metrics(target_ranks(sim, targets), ks=(1,))["R@1"] / 100
