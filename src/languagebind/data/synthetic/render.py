"""Render a ``Scene`` into video frames (RGB), depth maps (uint16 mm) and infrared images (RGB grey).

All three come from the same per-object fields (coverage, inside distance, local coordinates), computed once
for all frames on small windows around the objects, so the modalities agree pixel for pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from languagebind.data.synthetic import shapes
from languagebind.data.synthetic.scene import Scene
from languagebind.data.synthetic.vocab import CATEGORY_BY_NAME, COLOURS

DEPTH_RANGE_MM = (500, 10000)
THERMAL_RANGE_C = (-5.0, 70.0)  # temperatures mapped linearly onto 0..255
RELIEF_SCALE = 0.6  # relief height in mm per (radius fraction x distance mm): shallower than wide
OUTLINE_PX, OUTLINE_SHADE = 1.0, 0.3  # video/image: a 1-pixel rim painted at 30 % brightness


@dataclass(frozen=True)
class ObjectFields:
    """Per frame and object fields on a square window around the object, each ``(frames, count, w, w)``;
    ``rows`` and ``cols`` ``(frames, count, w)`` are the window's pixel indices in the ``size`` x ``size`` frame."""

    size: int
    coverage: np.ndarray
    inside: np.ndarray  # normalised inside distance in [0, 1]
    u: np.ndarray
    v: np.ndarray
    rows: np.ndarray
    cols: np.ndarray

    def frames(self, indices: list[int]) -> ObjectFields:
        """The fields of the frames ``indices`` only (e.g. the keyframes)."""
        return ObjectFields(self.size, *(a[indices] for a in (self.coverage, self.inside, self.u, self.v,
                                                               self.rows, self.cols)))


def object_fields(scene: Scene, times: np.ndarray, size: int) -> ObjectFields:
    """Evaluate the category's shape around every object centre at clip times ``times``.

    Only a window of ``2 * radius + 2`` pixels around each object is evaluated (objects lie inside the frame).
    """
    category = scene.attributes["category"]
    width = min(int(np.ceil(2 * scene.radius * size)) + 3, size)
    centres = scene.positions(times) * size  # (F, n, 2) in pixels
    origin = np.clip(np.floor(centres - width / 2).astype(np.int64), 0, size - width)  # (F, n, 2)
    offsets = np.arange(width)
    cols, rows = origin[..., 0, None] + offsets, origin[..., 1, None] + offsets  # (F, n, w)
    centres = centres.astype(np.float32)
    u = (cols[..., None, :] + 0.5 - centres[..., 0, None, None]).astype(np.float32) / (scene.radius * size)
    v = (rows[..., :, None] + 0.5 - centres[..., 1, None, None]).astype(np.float32) / (scene.radius * size)
    u, v = np.broadcast_arrays(u, v)
    distance = shapes.signed_distance(category, u, v)
    return ObjectFields(size=size, coverage=shapes.coverage(distance, scene.radius * size),
                        inside=shapes.depth_inside(category, distance), u=u, v=v, rows=rows, cols=cols)


def _composite(background: np.ndarray, values: np.ndarray, fields: ObjectFields) -> np.ndarray:
    """Paint the objects, one after the other, over ``background`` ``(H, W[, C])``.

    ``values``: ``(F, n, w, w[, C])`` per-pixel object values in the windows; returns ``(F, H, W[, C])`` float32.
    """
    frames = len(fields.rows)
    out = np.repeat(np.asarray(background, np.float32)[None], frames, axis=0)
    index = np.arange(frames)[:, None, None]
    coverage = fields.coverage.reshape(fields.coverage.shape + (1,) * (values.ndim - fields.coverage.ndim))
    for k in range(fields.rows.shape[1]):
        where = (index, fields.rows[:, k, :, None], fields.cols[:, k, None, :])
        out[where] = out[where] * (1.0 - coverage[:, k]) + values[:, k] * coverage[:, k]
    return out


def render_video(scene: Scene, fields: ObjectFields) -> np.ndarray:
    """RGB frames ``(F, H, W, 3)`` uint8: painted, textured objects over a tinted grey gradient."""
    size = fields.size
    bg = scene.background
    rows = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
    grey = bg["grey"] + bg["gradient"] * rows[:, None, None]
    tint = np.array([bg["tint_r"], bg["tint_g"], bg["tint_b"]], dtype=np.float32)
    background = np.broadcast_to(grey + tint, (size, size, 3))
    category = CATEGORY_BY_NAME[scene.attributes["category"]]
    paint = np.array(COLOURS[scene.attributes["colour"]], dtype=np.float32)
    shade = shapes.texture(category.texture, fields.u, fields.v, fields.inside)
    # A dark outline: the silhouette stays visible whatever the paint's contrast with the backdrop.
    inside_px = fields.inside * shapes.INNER_DEPTH[category.name] * scene.radius * size
    shade = np.where(inside_px < OUTLINE_PX, OUTLINE_SHADE, shade)
    frames = _composite(background, shade[..., None] * paint, fields)
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8)


def render_depth(scene: Scene, fields: ObjectFields) -> np.ndarray:
    """Depth maps ``(F, H, W)`` uint16 in mm: a backdrop receding from ``near_mm`` (bottom) to ``far_mm`` (top)
    and objects at their distance minus the category's relief."""
    size = fields.size
    bg = scene.background
    rows = (np.arange(size, dtype=np.float32) + 0.5) / size
    backdrop = np.broadcast_to((bg["far_mm"] + (bg["near_mm"] - bg["far_mm"]) * rows)[:, None], (size, size))
    kind = CATEGORY_BY_NAME[scene.attributes["category"]].relief
    distance = scene.distances_mm.astype(np.float32)[None, :, None, None]
    height = shapes.relief(kind, fields.inside) * (RELIEF_SCALE * scene.radius) * distance
    depth = _composite(backdrop, distance - height, fields)
    return np.clip(np.rint(depth), *DEPTH_RANGE_MM).astype(np.uint16)


def render_thermal(scene: Scene, fields: ObjectFields) -> np.ndarray:
    """Infrared images ``(F, H, W, 3)`` uint8: temperature -> grey level, blurred like a thermal sensor."""
    size = fields.size
    bg = scene.background
    rows = (np.arange(size, dtype=np.float32) + 0.5) / size
    backdrop = np.broadcast_to((bg["temperature"] + 3.0 * rows)[:, None], (size, size))
    category = CATEGORY_BY_NAME[scene.attributes["category"]]
    surface = category.temperature + shapes.heat(category.heat, fields.inside)
    temperature = _blur(_composite(backdrop, surface, fields))
    low, high = THERMAL_RANGE_C
    grey = np.clip(np.rint((temperature - low) / (high - low) * 255.0), 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)


def _blur(images: np.ndarray) -> np.ndarray:
    """A separable [1, 2, 1] / 4 blur over the last two axes (edge pixels repeated)."""
    out = images
    for axis in (-1, -2):
        padded = np.concatenate([np.take(out, [0], axis=axis), out, np.take(out, [-1], axis=axis)], axis=axis)
        n = out.shape[axis]
        out = (np.take(padded, range(0, n), axis=axis) + 2 * np.take(padded, range(1, n + 1), axis=axis)
               + np.take(padded, range(2, n + 2), axis=axis)) / 4.0
    return out
