"""VIDAL-style multi-view text from a clip's ground truth: a title with hashtags (``raw``), one caption per
keyframe (OFA), a video caption (mPLUG), a polished caption (ChatGPT-mPLUG) and a sound caption.

Wordings vary (templates drawn from the item's generator) but every view names only true attributes, and each
view only what its source could perceive: keyframe captions no motion, the sound caption no colour, size or
direction. Titles avoid the words the title cleaner removes (e.g. "video").
"""

from __future__ import annotations

from typing import Any

import numpy as np

from languagebind.data.synthetic.captions import SPEED_ADVERBS, noun_phrase
from languagebind.data.synthetic.vocab import CATEGORY_BY_NAME

DIRECTION_PHRASES = {"left": "to the left", "right": "to the right", "up": "upwards", "down": "downwards"}
MOTION_VERBS = {"slow": ("drifting", "crawling", "gliding"), "fast": ("racing", "zooming", "rushing")}
TAG_NOISE = ("#shorts", "#viral", "#fyp")


def text_views(attributes: dict[str, Any], keyframe_centres: np.ndarray, rng: np.random.Generator
               ) -> dict[str, Any]:
    """The ``text`` object of a manifest record. ``keyframe_centres``: ``(keyframes, count, 2)`` positions."""
    a = attributes
    seen = noun_phrase(a, one="a")  # "two large red stars" / "a large red star"
    plural = int(a["count"]) > 1
    category = CATEGORY_BY_NAME[a["category"]]
    heard = noun_phrase({"category": a["category"], "count": a["count"]}, one="a")
    adverb, pace, way = SPEED_ADVERBS[a["speed"]], a["speed"], DIRECTION_PHRASES[a["direction"]]
    motion = _pick(rng, MOTION_VERBS[a["speed"]])
    be, go = ("are", "go") if plural else ("is", "goes")

    title = _pick(rng, (f"{seen} {motion} {a['direction']}", f"look at {seen} {motion} {way}",
                        f"{seen} {motion} {way}!"))
    tags = [f"#{a['category']}", f"#{a['colour']}", f"#{a['direction']}", "#shapes"]
    if rng.random() < 0.5:
        tags.append(_pick(rng, TAG_NOISE))
    video_caption = _pick(rng, (
        f"the video shows {seen} moving {adverb} {way} against a plain background.",
        f"{seen} {be} moving {adverb} {way} across the frame.",
        f"in this clip, {seen} {be} {motion} {way}."))
    polished = _pick(rng, (
        f"{_capital(seen)} {be} {motion} {way} across a plain backdrop, {category.verb} as {_they(plural)} {go}.",
        f"Against a plain backdrop, {seen} {be} moving {adverb} {way}, {category.verb} along the way."))
    sound = _pick(rng, (
        f"the sound of {heard} {category.verb} {adverb}.",
        f"{heard} can be heard {category.verb} at a {pace} pace.",
        f"a {pace} rhythm of {heard} {category.verb}."))
    keyframes = [" " + _pick(rng, (f"{seen} {_where(c)}", f"a picture of {seen} {_where(c)}",
                                   f"{seen} on a plain background")) for c in keyframe_centres]
    return {"raw": f"{_capital(title)} {' '.join(tags)}", "keyframe_captions": keyframes,
            "video_caption": video_caption, "polished_caption": polished, "sound_caption": sound}


def _where(centres: np.ndarray) -> str:
    """Where the objects of one frame are: ``"in the top left"``, ``"in the centre"``, ``"side by side"``."""
    if len(centres) > 1:
        spread_x, spread_y = np.ptp(centres, axis=0)
        return "side by side" if spread_x >= spread_y else "one above the other"
    x, y = centres[0]
    column = "left" if x < 1 / 3 else "right" if x > 2 / 3 else ""
    row = "top" if y < 1 / 3 else "bottom" if y > 2 / 3 else ""
    if column and row:
        return f"in the {row} {column}"
    if column:
        return f"on the {column}"
    if row:
        return f"at the {row}"
    return "in the centre"


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _they(plural: bool) -> str:
    return "they" if plural else "it"
