"""Point clouds of a clip's 3-D objects, sampled from the scene's object geometry (not from a depth map).

Every object is a solid: its category's outline (``shapes.signed_distance``) extruded into a slab of thickness
``BASE`` with the category's relief (``shapes.relief``, the same profile the depth maps show) raised on its front.
Points are drawn on the solid's whole surface (front relief, flat back, side walls), so the back and the sides
that no camera sees are there too. Coordinates are metres in a right-handed frame: x to the right, y up, z
towards the camera; the frame is ``FRAME_METRES`` wide. The objects are where they are in the clip's still image
(the middle keyframe).
"""

from __future__ import annotations

import numpy as np

from languagebind.data.synthetic import shapes
from languagebind.data.synthetic.scene import Scene
from languagebind.data.synthetic.vocab import CATEGORY_BY_NAME

FRAME_METRES = 2.0  # width (and height) of the frame in the scene, in metres
BASE = 0.25  # slab thickness behind the relief, in object radii
RELIEF = 0.6  # relief height at its highest, in object radii (as the depth maps' RELIEF_SCALE)
SHARES = (0.5, 0.25, 0.25)  # front, back, side points
EDGE = 0.02  # side-wall points lie within this distance (object radii) of the outline
NOISE = 0.002  # sensor noise, metres (standard deviation per coordinate)
POINTS = 1024  # points per clip (the objects share them)


def _draw(category: str, rng: np.random.Generator, count: int, keep) -> tuple[np.ndarray, np.ndarray]:
    """``count`` local points ``(u, v)`` (object radii) drawn uniformly where ``keep(signed distance)`` holds,
    and their signed distances; deterministic for a given generator."""
    found_uv, found_d = [], []
    total = 0
    while total < count:
        uv = rng.uniform(-1.05, 1.05, size=(max(4 * count, 256), 2))
        distance = shapes.signed_distance(category, uv[:, 0], uv[:, 1])
        mask = keep(distance)
        found_uv.append(uv[mask])
        found_d.append(distance[mask])
        total += int(mask.sum())
    return np.concatenate(found_uv)[:count], np.concatenate(found_d)[:count]


def object_points(category: str, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` points on the surface of one object of ``category`` in local units (radius 1): ``(count, 3)``
    with u to the right, v down (as ``shapes``), and height h towards the camera from the back face (h = 0)."""
    front_n, back_n = round(count * SHARES[0]), round(count * SHARES[1])
    side_n = count - front_n - back_n
    kind = CATEGORY_BY_NAME[category].relief
    uv, distance = _draw(category, rng, front_n, lambda d: d < 0)
    front = np.column_stack([uv, BASE + RELIEF * shapes.relief(kind, shapes.depth_inside(category, distance))])
    uv, _ = _draw(category, rng, back_n, lambda d: d < 0)
    back = np.column_stack([uv, np.zeros(back_n)])
    uv, _ = _draw(category, rng, side_n, lambda d: np.abs(d) < EDGE)
    side = np.column_stack([uv, rng.uniform(0.0, BASE, size=side_n)])
    return np.concatenate([front, back, side])


def sample_points(scene: Scene, time: float, rng: np.random.Generator, count: int = POINTS) -> np.ndarray:
    """The clip's objects at clip time ``time`` (fraction in [0, 1]) as one ``(count, 3)`` float32 cloud in
    metres (x right, y up, z towards the camera); the objects share the points equally."""
    category = scene.attributes["category"]
    centres = scene.positions(np.array([time]))[0]  # (n, 2) frame fractions, y down
    n = len(centres)
    shares = [count // n + (k < count % n) for k in range(n)]
    radius = scene.radius * FRAME_METRES
    mean_distance = float(scene.distances_mm.mean())
    clouds = []
    for k, share in enumerate(shares):
        local = object_points(category, share, rng)
        x = (centres[k, 0] * FRAME_METRES) + local[:, 0] * radius
        y = -(centres[k, 1] * FRAME_METRES + local[:, 1] * radius)
        z = (mean_distance - scene.distances_mm[k]) / 1000.0 + local[:, 2] * radius
        clouds.append(np.column_stack([x, y, z]))
    cloud = np.concatenate(clouds) + rng.normal(0.0, NOISE, size=(count, 3))
    return cloud.astype(np.float32)
