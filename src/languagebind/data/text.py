"""Training texts: the multi-view captions of a clip and the weighted view sampling rule.

A VIDAL clip has up to five kinds of text: the YouTube title with hashtags (``raw``), a video caption
(official ``mplug``), a polished caption (``polish_mplug``), a sound caption (``sound_mplug``) and one caption per
keyframe (``ofa0..7``). Each training step uses one, drawn by weight (the official ``mix`` rule: 0.2 each, the
keyframe share split evenly over the keyframe captions). A keyframe caption ``k`` also pins frame ``k`` of depth
and thermal, whose frames were derived from the same keyframes. Titles are cleaned by `languagebind.data.titles`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from languagebind.data.titles import clean_title
from languagebind.errors import ConfigError, InputError

VIEWS = ("raw", "video_caption", "polished_caption", "sound_caption", "keyframe_captions", "captions")
LIST_VIEWS = ("keyframe_captions", "captions")  # a weight is shared evenly by the list's entries
# Official field / --text-type names -> ours.
OFFICIAL_VIEW_NAMES = {"raw": "raw", "mplug": "video_caption", "polish_mplug": "polished_caption",
                       "sound_mplug": "sound_caption", "ofa": "keyframe_captions"}
# ``captions`` (generic alternative captions, e.g. COCO's five) is not a VIDAL view; it never occurs in official
# data, so giving it a weight leaves the official rule unchanged there.
MIX_WEIGHTS = {"raw": 0.2, "video_caption": 0.2, "polished_caption": 0.2, "sound_caption": 0.2,
               "keyframe_captions": 0.2, "captions": 0.2}
POLISHED_PREFIX = "In the video, "  # the official shards store polished captions with it; the loader strips it


@dataclass(frozen=True)
class TextViews:
    """The texts of one clip; empty strings mean absent.

    ``contrast`` is not a view to train on but hard negatives for one: a true caption of the clip followed by
    variants of it that are false for the clip (one detail changed, as NegCLIP's), which the trainer's
    ``contrast_weight`` term ranks below the true one.
    """

    raw: str = ""
    video_caption: str = ""
    polished_caption: str = ""
    sound_caption: str = ""
    keyframe_captions: tuple[str, ...] = ()
    captions: tuple[str, ...] = ()
    contrast: tuple[str, ...] = ()

    @classmethod
    def from_ours(cls, text: Mapping[str, object]) -> TextViews:
        """Our manifest's ``text`` object (every field optional)."""
        unknown = set(text) - {*VIEWS, "contrast"}
        if unknown:
            raise InputError(str(sorted(unknown)), f"unknown text fields; known: {', '.join(VIEWS)}, contrast")
        return cls(raw=_string(text.get("raw")), video_caption=_string(text.get("video_caption")),
                   polished_caption=_string(text.get("polished_caption")),
                   sound_caption=_string(text.get("sound_caption")),
                   keyframe_captions=_strings(text.get("keyframe_captions"), "keyframe_captions"),
                   captions=_strings(text.get("captions"), "captions"),
                   contrast=_strings(text.get("contrast"), "contrast"))

    @classmethod
    def from_official(cls, fields: Mapping[str, object]) -> TextViews:
        """Official names (``raw``, ``mplug``, ``polish_mplug``, ``sound_mplug``, ``ofa`` list or ``ofa{k}``)."""
        ofa = fields.get("ofa")
        if ofa is None:
            keyed = {int(k[3:]): v for k, v in fields.items() if re.fullmatch(r"ofa\d+", k)}
            ofa = [keyed.get(k, "") for k in range(max(keyed) + 1)] if keyed else []
        polished = _string(fields.get("polish_mplug"))
        if polished.startswith(POLISHED_PREFIX):
            polished = polished[len(POLISHED_PREFIX):]
        return cls(raw=_string(fields.get("raw")), video_caption=_string(fields.get("mplug")),
                   polished_caption=polished, sound_caption=_string(fields.get("sound_mplug")),
                   keyframe_captions=_strings(ofa, "ofa"))


def _strings(values: object, name: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise InputError(name, "must be a list of strings")
    return tuple(_string(t) for t in values)


def _string(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        raise InputError(repr(value)[:60], "a text field must be a string")
    return value.strip()


# -- view sampling -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TextChoice:
    """The text used for one sample, which view it came from, and the keyframe it pins (or None)."""

    text: str
    view: str
    keyframe: int | None = None


@dataclass(frozen=True)
class TextSampler:
    """Draws one text view per sample by weight, renormalised over the views a clip has.

    ``weights``: ``"mix"`` (official default), one view name (ours or official, e.g. ``"polish_mplug"``) for
    always that view, or ``{view: weight}``. A list view's weight (keyframe captions, captions) is the total over
    its entries.
    """

    weights: Mapping[str, float] = field(default_factory=lambda: dict(MIX_WEIGHTS))
    stop_words: frozenset[str] | None = None

    @classmethod
    def from_spec(cls, spec: str | Mapping[str, float], stop_words: frozenset[str] | None = None) -> TextSampler:
        return cls(parse_weights(spec), stop_words)

    def options(self, views: TextViews) -> list[tuple[TextChoice, float]]:
        """Every usable text with its probability weight (unnormalised), in a fixed order."""
        out: list[tuple[TextChoice, float]] = []
        for view in VIEWS:
            weight = float(self.weights.get(view, 0.0))
            if weight <= 0:
                continue
            if view in LIST_VIEWS:
                entries = getattr(views, view)
                keyframe = view == "keyframe_captions"
                out.extend((TextChoice(t, view, k if keyframe else None), weight / len(entries))
                           for k, t in enumerate(entries) if t)
                continue
            text = getattr(views, view)
            if view == "raw":
                text = clean_title(text, self.stop_words)
            if text:
                out.append((TextChoice(text, view), weight))
        return out

    def sample(self, views: TextViews, rng: np.random.Generator, item: object = "sample") -> TextChoice:
        """One text drawn by weight; ``InputError`` when the clip has no usable text."""
        options = self.options(views)
        if not options:
            raise InputError(item, "no usable text (every weighted text view is empty)")
        weights = np.array([w for _, w in options], dtype=np.float64)
        return options[int(rng.choice(len(options), p=weights / weights.sum()))][0]

    def fixed(self, views: TextViews, item: object = "sample") -> TextChoice:
        """The deterministic choice for evaluation: the heaviest view present (first in ``VIEWS`` on ties)."""
        options = self.options(views)
        if not options:
            raise InputError(item, "no usable text (every weighted text view is empty)")
        best = max(w for _, w in options)
        return next(choice for choice, w in options if w == best)


def parse_weights(spec: str | Mapping[str, float]) -> dict[str, float]:
    """``"mix"``, a single view name, or a ``{view: weight}`` mapping -> weights in our view names."""
    if isinstance(spec, str):
        if spec == "mix":
            return dict(MIX_WEIGHTS)
        return {_view_name(spec): 1.0}
    weights = {_view_name(k): float(v) for k, v in spec.items()}
    if any(w < 0 for w in weights.values()) or not any(w > 0 for w in weights.values()):
        raise ConfigError(f"text weights {dict(spec)} need non-negative values and at least one positive")
    return weights


def _view_name(name: str) -> str:
    if name in VIEWS:
        return name
    if name in OFFICIAL_VIEW_NAMES:
        return OFFICIAL_VIEW_NAMES[name]
    known = ", ".join(VIEWS + tuple(OFFICIAL_VIEW_NAMES))
    raise ConfigError(f"unknown text view {name!r}; use 'mix' or one of {known}")
