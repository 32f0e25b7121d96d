"""The multi-view text sampling rule (title cleaning: test_titles.py)."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from languagebind.data.text import MIX_WEIGHTS, TextSampler, TextViews, parse_weights
from languagebind.errors import ConfigError, InputError


def views(**overrides: object) -> TextViews:
    base = {"raw": "A title #tag", "video_caption": "vc", "polished_caption": "pc", "sound_caption": "sc",
            "keyframe_captions": tuple(f"k{k}" for k in range(8))}
    return TextViews(**{**base, **overrides})


def test_mix_frequencies_follow_official_weights() -> None:
    sampler = TextSampler()
    rng = np.random.default_rng(0)
    counts = collections.Counter(sampler.sample(views(), rng).view for _ in range(20000))
    assert counts["captions"] == 0  # not a VIDAL view: the official five keep 0.2 each
    for view, weight in MIX_WEIGHTS.items():
        if view == "captions":
            continue
        assert abs(counts[view] / 20000 - weight) < 0.015
    keyframes = collections.Counter(c.keyframe for c in (sampler.sample(views(), rng) for _ in range(20000))
                                    if c.view == "keyframe_captions")
    assert set(keyframes) == set(range(8)) and all(abs(n / 20000 - 0.025) < 0.006 for n in keyframes.values())


def test_keyframe_choice_carries_its_index() -> None:
    sampler = TextSampler.from_spec({"keyframe_captions": 1.0})
    choice = sampler.sample(views(), np.random.default_rng(3))
    assert choice.text == f"k{choice.keyframe}"


def test_missing_views_are_renormalised_and_empty_is_an_error() -> None:
    sampler = TextSampler()
    only = views(raw="#shorts", video_caption="", polished_caption="", sound_caption="", keyframe_captions=("", "k1"))
    rng = np.random.default_rng(0)
    assert {sampler.sample(only, rng).text for _ in range(50)} == {"k1"}
    with pytest.raises(InputError, match="no usable text"):
        sampler.sample(TextViews(raw="#shorts #viral"), rng, item="clip9")


def test_official_names_and_fixed_choice() -> None:
    assert parse_weights("polish_mplug") == {"polished_caption": 1.0}
    assert TextSampler.from_spec("polish_mplug").fixed(views()).text == "pc"
    assert TextSampler().fixed(views()).view == "raw"  # equal weights: first view in order
    assert TextSampler().fixed(views()).text == "a title, tag"
    with pytest.raises(ConfigError):
        parse_weights("title")
    with pytest.raises(ConfigError):
        parse_weights({"raw": 0.0})


def test_official_fields_strip_polished_prefix() -> None:
    v = TextViews.from_official({"raw": b"t", "polish_mplug": b"In the video, a dog runs.", "ofa2": b"x", "ofa0": b"y"})
    assert v.polished_caption == "a dog runs."
    assert v.keyframe_captions == ("y", "", "x")
    with pytest.raises(InputError, match="unknown text fields"):
        TextViews.from_ours({"title": "x"})


def test_generic_captions_view() -> None:
    v = TextViews.from_ours({"captions": ["a dog", "", "a puppy"]})
    rng = np.random.default_rng(0)
    assert {TextSampler().sample(v, rng).text for _ in range(40)} == {"a dog", "a puppy"}
