"""Hard negatives (``TextViews.contrast``): the loss term, its batching, and a run with it (accumulation too)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from languagebind.data import MemoryRecords, TextViews
from languagebind.data.stream import collate_contrast
from languagebind.model.presets import tiny_config as model_config
from languagebind.pretrained import random_model
from languagebind.train import train
from languagebind.train.loss import hard_negative_loss
from tests.train.helpers import final_weights, max_difference, tiny_config

COLOURS = ("red", "green", "blue")


def test_loss_ranks_the_true_caption_first_and_ignores_masked_entries() -> None:
    items = F.normalize(torch.randn(3, 8), dim=-1)
    texts = F.normalize(torch.randn(3, 4, 8), dim=-1)
    mask = torch.tensor([[True, True, True, False], [True, True, False, False], [False] * 4])
    got = hard_negative_loss(items, texts, mask, temperature=0.1)
    rows = [torch.einsum("p,kp->k", items[i], texts[i, :n]) / 0.1 for i, n in ((0, 3), (1, 2))]
    want = torch.stack([F.cross_entropy(r[None], torch.zeros(1, dtype=torch.long)) for r in rows]).mean()
    assert got.item() == pytest.approx(want.item(), rel=1e-6)  # the third sample has no negatives: not counted
    assert hard_negative_loss(items, texts, torch.zeros(3, 4, dtype=torch.bool), 0.1).item() == 0.0


def test_lists_are_padded_and_masked() -> None:
    out = collate_contrast([("a red square", "a blue square", "a green square"), (), ("a red square",)])
    assert out["mask"].tolist() == [[True, True, True], [False] * 3, [False] * 3]  # one text alone contrasts nothing
    assert len(out["texts"]) == 9 and out["texts"][:4] == ["a red square", "a blue square", "a green square", ""]


def squares(n: int, with_negatives: bool) -> MemoryRecords:
    pixels = torch.eye(3)[torch.arange(n) % 3][:, :, None, None].expand(n, 3, 32, 32).contiguous()
    views = []
    for i in range(n):
        true = f"a {COLOURS[i % 3]} square"
        false = tuple(f"a {c} square" for c in COLOURS if c != COLOURS[i % 3])
        views.append(TextViews(captions=(true,), contrast=(true, *false) if with_negatives and i % 4 else ()))
    return MemoryRecords("image", pixels, views)


def test_a_run_with_hard_negatives_counts_them_and_accumulates_exactly(tmp_path: Path) -> None:
    common = {"max_steps": 3, "save_every": 3, "lr": 5e-3}
    runs = {}
    for name, data, extra in (("plain", squares(32, False), {"contrast_weight": 1.0}),
                              ("big", squares(32, True), {"contrast_weight": 1.0}),
                              ("accum", squares(32, True), {"contrast_weight": 1.0, "batch_size": 8,
                                                            "accum_steps": 2})):
        model = random_model(model_config("image"), seed=0).model
        cfg = tiny_config(train_data=data, **{"batch_size": 16, **common, **extra})
        runs[name] = train(cfg, tmp_path / name, model=model)
    losses = {k: [h["loss"] for h in r.history] for k, r in runs.items()}
    assert losses["big"][0] > losses["plain"][0] + 0.1  # the term adds its (about log 3) loss
    assert losses["accum"] == pytest.approx(losses["big"], abs=1e-5)
    assert max_difference(final_weights(tmp_path / "accum"), final_weights(tmp_path / "big")) <= 1e-5
