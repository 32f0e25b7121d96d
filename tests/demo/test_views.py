"""The demo's extra training views: several keyframes per depth / thermal clip, video frames beside the image
still, and clips played backwards with their direction swapped (never into a held-out combination)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from languagebind.data.synthetic.generate import generate
from languagebind.data.synthetic.options import SyntheticConfig
from languagebind.demo.data import ItemViews, Views, read_split, reversed_clips, split_tensors
from languagebind.processing import ProcessorConfig

CONFIG = SyntheticConfig.tiny(seed=3, n_train=12, n_val=0, n_test=0, n_compositional=0)


@pytest.fixture(scope="module")
def train(tmp_path_factory: pytest.TempPathFactory):
    dataset = generate(tmp_path_factory.mktemp("vidal-mini"), CONFIG, workers=1)
    return read_split(dataset["train"].manifest, "train")


def test_keyframes_and_video_frames_keep_the_evaluation_view_first(train, tmp_path) -> None:
    config = ProcessorConfig(image_size=32, num_frames=2)
    for modality, views, count in (("depth", Views(keyframes=4), 4), ("image", Views(video_frames=3), 4)):
        single = split_tensors(train, modality, config, tmp_path, workers=1)
        many = split_tensors(train, modality, config, tmp_path, workers=1, views=views)
        assert many.shape == (len(train), count, *single.shape[1:]) and many.dtype == torch.float16
        assert torch.equal(many[:, 0], single)  # the view the tower is evaluated on comes first
        assert not torch.equal(many[:, 1], many[:, 0])  # the others show the scene at other moments
        items = ItemViews(many)
        assert len(items) == len(train) and len(items[2]) == count and torch.equal(items[2][1], many[2, 1])
    keyframes = train.keyframes(0, "thermal", 3)
    assert keyframes[0] == train.source(0, "thermal") and len(set(keyframes)) == 3


def test_reversed_clips_swap_direction_and_skip_held_out_combinations(train) -> None:
    pixels = torch.arange(len(train) * 2, dtype=torch.float32).reshape(len(train), 1, 2, 1, 1)
    held = {"direction": {m["category"]: m["direction"] for m in train.metas[:3]}}  # make some reversals illegal
    opposite = {"left": "right", "right": "left", "up": "down", "down": "up"}
    held["direction"] = {c: opposite[d] for c, d in held["direction"].items()}
    backwards, origin, metas = reversed_clips(train, pixels, held)
    assert 0 < len(origin) < len(train) and 0 not in origin
    for row, (i, meta) in enumerate(zip(origin, metas, strict=True)):
        assert torch.equal(backwards[row, 0, :, 0, 0], pixels[i, 0, [1, 0], 0, 0])  # frames in reverse order
        assert meta["direction"] == opposite[train.metas[i]["direction"]]
        assert held["direction"].get(meta["category"]) != meta["direction"]
        assert {k: v for k, v in meta.items() if k != "direction"} == \
               {k: v for k, v in train.metas[i].items() if k != "direction"}
    caption = train.views(origin[0], "video", meta=metas[0]).captions[0]
    assert metas[0]["direction"] in caption.split() and np.all(np.diff(origin) > 0)


def test_hard_negatives_vary_only_the_named_attributes_and_skip_held_out_pairs(train) -> None:
    from languagebind.data.synthetic.captions import caption

    vocab = CONFIG.vocabulary()
    held = vocab.held_out()["direction"]
    for i, meta in enumerate(train.metas):
        views = train.views(i, "video", coarse=True, full_share=0.5, contrast=(("direction", "speed"),), vocab=vocab)
        full = caption("video", meta)
        assert views.contrast[0] == full and full not in views.contrast[1:]
        # 4 directions x 2 speeds, minus the truth, minus the held-out direction (unless it is the true one)
        assert len(views.contrast) - 1 == 7 - 2 * (held[meta["category"]] != meta["direction"])
        assert all(f" {held[meta['category']]} " not in f" {c} " for c in views.contrast[1:])
        prefix = full.split(" moving ")[0]
        assert all(c.split(" moving ")[0] == prefix for c in views.contrast)  # the rest of the caption unchanged
        coarse = [c for c in views.captions if c != full]
        assert views.captions.count(full) == len(coarse)  # half of the draws give the full caption
    assert train.views(0, "video").contrast == ()
    meta = train.metas[0]
    other = train.views(0, "video", contrast=(("speed",), ("category",)), vocab=vocab).contrast[1:]
    categories = [c for c in vocab.categories if c != meta["category"]
                  and vocab.held_out()["direction"][c] != meta["direction"]
                  and vocab.held_out()["colour"][c] != meta["colour"] and vocab.held_out()["count"][c] != meta["count"]]
    assert len(other) == 1 + len(categories)  # the other speed, then each category whose pairs are not held out
    audio = train.views(0, "audio", contrast=(("direction", "speed"),), vocab=vocab).contrast
    assert len(audio) == 2  # audio does not hear direction: only the other speed is a false caption
    with pytest.raises(ValueError, match="vocabulary"):
        train.views(0, "video", contrast=(("speed",),))
