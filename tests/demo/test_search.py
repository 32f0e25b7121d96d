"""The demo's shifted test items (its search is tested with the index package in tests/index)."""

from __future__ import annotations


def test_shifted_items_translate_every_frame_alike_and_repeat() -> None:
    import torch

    from languagebind.demo.data import ShiftedItems

    video = torch.randn(4, 3, 2, 12, 12).half()
    assert torch.equal(ShiftedItems(video, 0)[2], video[2].float())
    first = [ShiftedItems(video, 2, seed=5)[i] for i in range(4)]
    again = [ShiftedItems(video, 2, seed=5)[i] for i in range(4)]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    for i, item in enumerate(first):  # the interior is the original moved by one (dy, dx) for all frames
        source = video[i].float()
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                 if torch.equal(item[..., 2:-2, 2:-2], source[..., 2 + dy:10 + dy, 2 + dx:10 + dx])]
        assert len(found) == 1
