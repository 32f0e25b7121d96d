"""Per-category shape fields on local coordinates ``(u, v)`` (object centre at 0, radius 1, v down).

``signed_distance`` is negative inside (in radius units, approximate away from the edge); ``depth_inside``
normalises the inside distance to [0, 1] (0 at the edge, 1 at the deepest point), from which the relief (depth),
the surface texture (video) and the heat pattern (thermal) are derived. All functions are vectorised numpy.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Field = np.ndarray


def _circle(u: Field, v: Field, cx: float = 0.0, cy: float = 0.0, r: float = 1.0) -> Field:
    return np.hypot(u - cx, v - cy) - r


def _box(u: Field, v: Field, half_w: float, half_h: float) -> Field:
    qx, qy = np.abs(u) - half_w, np.abs(v) - half_h
    outside = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
    return outside + np.minimum(np.maximum(qx, qy), 0)


def _polygon(u: Field, v: Field, sides: int, inradius: float, rotation: float) -> Field:
    """Regular polygon as the max of its edge half-planes (exact inside, slightly rounded outside)."""
    angles = rotation + 2 * np.pi * np.arange(sides) / sides
    return np.max([u * np.cos(a) + v * np.sin(a) - inradius for a in angles], axis=0)


def _star(u: Field, v: Field) -> Field:
    theta = np.arctan2(v, u) + np.pi / 2  # a point straight up
    wave = np.abs(((theta * 5 / (2 * np.pi)) % 1.0) - 0.5) * 2  # 1 at the points, 0 between
    return (np.hypot(u, v) - (0.45 + 0.55 * wave**1.5)) * 0.6


def _heart(u: Field, v: Field) -> Field:
    lobes = np.minimum(_circle(u, v, -0.45, -0.3, 0.52), _circle(u, v, 0.45, -0.3, 0.52))
    # A downward triangle below the lobes: two slanted edges and the top edge.
    tip = np.max([0.8 * u + 0.6 * v - 0.52, -0.8 * u + 0.6 * v - 0.52, -v - 0.3], axis=0)
    return np.minimum(lobes, tip)


def _moon(u: Field, v: Field) -> Field:
    return np.maximum(_circle(u, v), -_circle(u, v, 0.5, -0.25, 0.8))


SHAPES: dict[str, Callable[[Field, Field], Field]] = {
    "ball": lambda u, v: _circle(u, v),
    "cube": lambda u, v: _box(u, v, 0.82, 0.82),
    "star": _star,
    "ring": lambda u, v: np.abs(np.hypot(u, v) - 0.7) - 0.3,
    "triangle": lambda u, v: _polygon(u, v, 3, 0.58, np.pi / 2),
    "cross": lambda u, v: np.minimum(_box(u, v, 0.95, 0.3), _box(u, v, 0.3, 0.95)),
    "heart": _heart,
    "diamond": lambda u, v: (np.abs(u) * 1.6 + np.abs(v) - 1.0) / np.hypot(1.6, 1.0),  # tall: not a square
    "moon": _moon,
    "bar": lambda u, v: _box(u, v, 0.95, 0.34),
}
# Deepest inside distance of each shape (radius units), to normalise the inside distance to [0, 1].
INNER_DEPTH = {"ball": 1.0, "cube": 0.82, "star": 0.27, "ring": 0.3, "triangle": 0.58, "cross": 0.3,
               "heart": 0.5, "diamond": 0.53, "moon": 0.38, "bar": 0.34}


def signed_distance(category: str, u: Field, v: Field) -> Field:
    """Signed distance (radius units) to the category's outline; negative inside."""
    return SHAPES[category](u, v)


def coverage(distance: Field, radius_px: float) -> Field:
    """Anti-aliased pixel coverage in [0, 1] from a signed distance in radius units."""
    return np.clip(0.5 - distance * radius_px, 0.0, 1.0)


def depth_inside(category: str, distance: Field) -> Field:
    """Inside distance normalised to [0, 1] (0 on and outside the outline)."""
    return np.clip(-distance / INNER_DEPTH[category], 0.0, 1.0)


def relief(kind: str, inside: Field) -> Field:
    """Height above the object's base in [0, 1]: a ``dome``, a flat ``block`` with bevelled edge, or a ``cone``."""
    if kind == "dome":
        return np.sqrt(1.0 - (1.0 - inside) ** 2)
    if kind == "block":
        return np.minimum(inside * 4.0, 1.0)
    if kind == "cone":
        return inside
    raise ValueError(f"unknown relief {kind!r}")


def texture(kind: str, u: Field, v: Field, inside: Field) -> Field:
    """Brightness factor of the paint in [0.5, 1] (never strong enough to change the colour's name)."""
    if kind == "shaded":
        return 0.5 + 0.5 * np.clip(np.sqrt(np.clip(inside, 0, 1)) - 0.25 * (u + v), 0, 1)
    if kind == "bevel":
        return np.where(inside < 0.25, 0.7, 1.0)
    if kind == "stripes":
        return np.where(np.sin(u * 7.0) > 0, 1.0, 0.72)
    if kind == "checker":
        return np.where((np.floor(u * 2.5) + np.floor(v * 2.5)) % 2 == 0, 1.0, 0.72)
    if kind == "dots":
        return np.where(np.hypot((u * 3) % 1 - 0.5, (v * 3) % 1 - 0.5) < 0.25, 0.65, 1.0)
    if kind == "rings":
        return np.where(np.sin(np.hypot(u, v) * 18.0) > 0, 1.0, 0.75)
    if kind == "flat":
        return np.ones_like(u)
    raise ValueError(f"unknown texture {kind!r}")


def heat(kind: str, inside: Field) -> Field:
    """Temperature offset in °C across the object: hottest at the ``core``, at the ``rim``, or ``even``."""
    if kind == "core":
        return 4.0 * inside - 2.0
    if kind == "rim":
        return 2.0 - 4.0 * inside
    if kind == "even":
        return np.zeros_like(inside)
    raise ValueError(f"unknown heat pattern {kind!r}")
