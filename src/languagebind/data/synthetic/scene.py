"""A clip's ground truth: its attributes and the geometry every modality is rendered from.

Coordinates are fractions of the (square) frame, ``(x, y)`` with y pointing down. All objects of a clip share
the attributes; each moves in its own lane (lanes never overlap, so the count is always visible) at the same
velocity, and its position over the clip is ``start + velocity * t`` for ``t`` in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from languagebind.data.synthetic.vocab import CATEGORY_BY_NAME, HELD_OUT_ATTRIBUTES, Vocabulary

RADIUS = {"small": 0.11, "large": 0.145}  # object radius, fraction of the frame side
TRAVEL = {"slow": 0.2, "fast": 0.5}  # distance covered over the clip, fraction of the frame side
UNIT = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0)}
MARGIN = 0.02
LANE_JITTER = 0.002
DISTANCE_JITTER = 100.0  # mm around the category's distance


@dataclass(frozen=True)
class Scene:
    """Attributes plus geometry and per-clip nuisances (background, distances, jitter)."""

    attributes: dict[str, Any]
    held_out: tuple[str, ...]  # attributes whose pairing with the category is held out of training
    radius: float  # fraction of the frame side
    starts: np.ndarray  # (count, 2) object centres at t = 0
    velocity: np.ndarray  # (2,) displacement over the whole clip
    distances_mm: np.ndarray  # (count,) camera distance of each object's front
    background: dict[str, float]  # grey level, gradient, tint, depth and temperature of the backdrop

    def positions(self, t: np.ndarray) -> np.ndarray:
        """Object centres at clip times ``t`` (fractions in [0, 1]) -> ``(len(t), count, 2)``."""
        return self.starts[None] + np.asarray(t, dtype=np.float64)[:, None, None] * self.velocity[None, None]

    def meta(self) -> dict[str, Any]:
        """The JSON-ready ground truth stored in a manifest record's ``meta``."""
        return {**self.attributes, "held_out": list(self.held_out)}


def sample_attributes(vocab: Vocabulary, index: int, rng: np.random.Generator, compositional: bool
                      ) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Attributes of item ``index``: categories cycle over the index (balanced), the rest is drawn from ``rng``.

    Regular items never use a held-out (category, value) pair. A compositional item always has its category's
    held-out count, and each of its colour and direction is the held-out one with probability 1/2.
    """
    category = vocab.categories[index % len(vocab.categories)]
    held = vocab.held_out()
    attributes: dict[str, Any] = {"category": category}
    held_out: list[str] = []
    for attribute in ("colour", "size", "count", "direction", "speed"):
        values = list(vocab.values(attribute))
        if attribute in HELD_OUT_ATTRIBUTES:
            forbidden = held[attribute][category]
            use_held = compositional and (attribute == "count" or rng.random() < 0.5)
            if use_held:
                held_out.append(attribute)
                attributes[attribute] = forbidden
                continue
            values.remove(forbidden)
        attributes[attribute] = values[int(rng.integers(len(values)))]
    return attributes, tuple(sorted(held_out))


def sample_scene(vocab: Vocabulary, index: int, rng: np.random.Generator, compositional: bool) -> Scene:
    """Draw one clip's attributes and lay its objects out so that they stay inside the frame and apart."""
    attributes, held_out = sample_attributes(vocab, index, rng, compositional)
    distance = CATEGORY_BY_NAME[attributes["category"]].distance
    count = int(attributes["count"])
    radius = RADIUS[attributes["size"]] * rng.uniform(0.95, 1.05)
    travel = TRAVEL[attributes["speed"]]
    along = np.array(UNIT[attributes["direction"]])
    across = np.abs(along[::-1])  # the axis the lanes are spread on
    # Position along the motion, measured in the direction of motion: [lo, hi] keeps the whole path in frame.
    lo, hi = radius + MARGIN, 1.0 - radius - MARGIN - travel
    progress = rng.uniform(lo, hi, size=count)
    # Three large lanes fit with a pixel (at 64 px) to spare: spacing (1 - 2 (r + 1.5 m)) / 2 - 2 jitter > 2 r.
    lane_lo, lane_hi = radius + 1.5 * MARGIN, 1.0 - radius - 1.5 * MARGIN
    if count == 1:
        lanes = rng.uniform(lane_lo, lane_hi, size=1)
    else:
        lanes = np.linspace(lane_lo, lane_hi, count) + rng.uniform(-LANE_JITTER, LANE_JITTER, size=count)
    # Progress p along a negative axis means coordinate 1 - p.
    sign = along.sum()
    along_coord = progress if sign > 0 else 1.0 - progress
    starts = np.abs(along)[None] * along_coord[:, None] + across[None] * lanes[:, None]
    background = {
        "grey": float(rng.uniform(80, 170)), "gradient": float(rng.uniform(-30, 30)),
        "tint_r": float(rng.uniform(-8, 8)), "tint_g": float(rng.uniform(-8, 8)), "tint_b": float(rng.uniform(-8, 8)),
        "far_mm": float(rng.uniform(8500, 9800)), "near_mm": float(rng.uniform(5600, 6500)),
        "temperature": float(rng.uniform(10, 16)),
    }
    distances = distance + rng.uniform(-DISTANCE_JITTER, DISTANCE_JITTER, size=count)
    return Scene(attributes=attributes, held_out=held_out, radius=float(radius), starts=starts,
                 velocity=along * travel, distances_mm=distances, background=background)
