"""The demo's faiss index: nearest items by cosine, saved and loaded unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from languagebind.errors import InputError
from languagebind.index.item_index import ItemIndex


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_search_finds_nearest_and_round_trips(tmp_path) -> None:
    rng = np.random.default_rng(0)
    video, audio = unit(rng.standard_normal((20, 16))), unit(rng.standard_normal((20, 16)))
    ids = [f"item-{i}" for i in range(20)]
    index = ItemIndex.build({"video": video, "audio": audio}, ids)
    hits = index.search(audio[[3, 7]], "audio", k=3)
    assert [h[0][0] for h in hits] == ["item-3", "item-7"] and hits[0][0][1] == pytest.approx(1.0, abs=1e-5)
    assert len(hits[0]) == 3 and hits[0][0][1] >= hits[0][1][1] >= hits[0][2][1]
    expected = np.argsort(-(video @ audio[5]))[:4]
    assert [item for item, _ in index.search(audio[5], "video", k=4)[0]] == [ids[i] for i in expected]
    loaded = ItemIndex.load(index.save(tmp_path / "index"))
    assert loaded.modalities == ["video", "audio"] and loaded.ids == ids
    assert loaded.search(audio[5], "video", k=4) == index.search(audio[5], "video", k=4)


def test_bad_inputs_are_named(tmp_path) -> None:
    index = ItemIndex.build({"video": unit(np.ones((2, 4)))}, ["a", "b"])
    with pytest.raises(InputError, match="thermal"):
        index.search(np.ones(4), "thermal")
    with pytest.raises(InputError, match="depth"):
        ItemIndex.build({"depth": unit(np.ones((3, 4)))}, ["a", "b"])
    with pytest.raises(InputError, match="not a demo index"):
        ItemIndex.load(tmp_path)


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
