"""Per-modality captions from attributes, and the helpers the evaluator needs.

A modality's caption names only the attributes it perceives (``PERCEIVES``), in one fixed wording, so that
"attribute precision@1" is well defined: a retrieved item is right when it matches every attribute that the
query caption names (``attributes_match``).

    >>> caption("video", {"category": "star", "colour": "red", "size": "large", "count": 2,
    ...                   "direction": "left", "speed": "fast"})
    'a video of two large red stars moving left quickly'
    >>> caption("audio", {"category": "star", "colour": "red", "count": 2, "speed": "fast"})
    'the sound of two stars chiming quickly'
    >>> caption("depth", {"category": "star"})
    'a depth map of a star'
    >>> caption("imu", {"category": "star", "colour": "red", "direction": "left", "speed": "fast"})
    'an IMU recording of an object moving left quickly'
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

from languagebind.data.synthetic.vocab import (
    CATEGORIES,
    CATEGORY_BY_NAME,
    COUNTS,
    DIRECTIONS,
    MODALITIES,
    PERCEIVES,
    SIZES,
    SPEEDS,
)
from languagebind.errors import InputError

COUNT_WORDS = {1: "one", 2: "two", 3: "three"}
SPEED_ADVERBS = {"slow": "slowly", "fast": "quickly"}
PREFIXES = {"video": "a video of", "image": "a photo of", "depth": "a depth map of",
            "thermal": "a thermal image of", "audio": "the sound of", "point": "a point cloud of",
            "imu": "an IMU recording of"}
VALUES: dict[str, tuple[Any, ...]] = {"size": SIZES, "count": COUNTS, "direction": DIRECTIONS, "speed": SPEEDS}
MOVERS = ("video", "imu")  # captions that say "moving <direction> <speed>"


def perceived(modality: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
    """The attributes of ``attributes`` (e.g. an item's ``meta``) that ``modality`` perceives."""
    return {a: attributes[a] for a in perceives(modality) if a in attributes}


def noun_phrase(attributes: Mapping[str, Any], one: str = "one") -> str:
    """``"two large red stars"``; ``"a star"`` when the count is not given; ``"an object"`` without a category.

    ``one`` is the word for a count of 1 (``"one"`` in captions, ``"a"`` in free text)."""
    count = attributes.get("count")
    category = CATEGORY_BY_NAME.get(attributes.get("category", ""))
    plural = count is not None and int(count) > 1
    names = ("object", "objects") if category is None else (category.name, category.plural)
    noun = names[plural]
    words = [str(attributes[a]) for a in ("size", "colour") if a in attributes] + [noun]
    if count is not None and (int(count) > 1 or one != "a"):
        return " ".join([COUNT_WORDS[int(count)] if int(count) > 1 else one, *words])
    return " ".join([_article(words[0]), *words])


def caption(modality: str, attributes: Mapping[str, Any]) -> str:
    """The caption of ``modality`` for an attribute set; attributes it cannot perceive are ignored.

    Any subset of attributes works, e.g. ``{"category": "ball"}`` gives the zero-shot label of "ball".
    """
    seen = perceived(modality, attributes)
    text = f"{PREFIXES[modality]} {noun_phrase(seen)}"
    if modality == "audio":
        category = CATEGORY_BY_NAME.get(seen.get("category", ""))
        text += f" {category.verb}" if category else " sounding"
    elif modality in MOVERS and ("direction" in seen or "speed" in seen):
        text += " moving"
    if "direction" in seen:
        text += f" {seen['direction']}"
    if "speed" in seen:
        text += f" {SPEED_ADVERBS[seen['speed']]}"
    return text


def captions_for(attributes: Mapping[str, Any]) -> dict[str, str]:
    """``{modality: caption}`` for every modality (stored per item in ``meta["captions"]``)."""
    return {m: caption(m, attributes) for m in MODALITIES}


def category_names(categories: Iterable[str] | None = None) -> list[str]:
    """Zero-shot class names (all built-in categories unless a dataset's list is given)."""
    return list(categories) if categories is not None else [c.name for c in CATEGORIES]


def zero_shot_classes(modality: str, categories: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The classes of ``modality``'s zero-shot task, as attribute sets: one per category for a modality that
    perceives the category; otherwise every combination of the values it perceives (IMU: direction x speed)."""
    names = category_names(categories)
    seen = perceives(modality)
    if "category" in seen:
        return [{"category": c} for c in names]
    values = [VALUES[a] for a in seen]
    return [dict(zip(seen, combo, strict=True)) for combo in itertools.product(*values)]


def zero_shot_labels(modality: str, categories: Iterable[str] | None = None) -> list[str]:
    """One caption per zero-shot class (``zero_shot_classes``) naming only its attributes, e.g.
    ``"a thermal image of a ring"``, ``"an IMU recording of an object moving up slowly"``."""
    return [caption(modality, c) for c in zero_shot_classes(modality, categories)]


def caption_labels(modality: str, metas: Iterable[Mapping[str, Any]]) -> list[str]:
    """Full-caption classification labels: the distinct captions of ``modality`` over items, sorted."""
    return sorted({caption(modality, meta) for meta in metas})


def attributes_match(query: Mapping[str, Any], candidate: Mapping[str, Any], modality: str) -> bool:
    """Whether ``candidate`` (an item's meta) has every attribute that ``modality``'s caption of ``query`` names.

    This is the hit rule of attribute precision@1 for a text query of ``modality``.
    """
    return all(candidate.get(a) == v for a, v in perceived(modality, query).items())


def perceives(modality: str) -> tuple[str, ...]:
    """The attributes ``modality`` can perceive (and its captions name), e.g. audio: category, count, speed."""
    if modality not in PERCEIVES:
        raise InputError(modality, f"unknown modality; VIDAL-mini has {', '.join(MODALITIES)}")
    return PERCEIVES[modality]


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"
