"""What every point-file reader returns (``Cloud``), the limits they check (``PointFileLimits``), and polygons
split into triangle fans (the faces of OFF and PLY meshes)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from languagebind.errors import InputError


@dataclass(frozen=True)
class PointFileLimits:
    """Largest accepted input: file size in bytes and number of points (vertices) declared or read."""

    max_points: int
    max_file_bytes: int

    def check_points(self, item: object, count: int) -> None:
        if count > self.max_points:
            raise InputError(item, f"too many points: {count:,} (limit {self.max_points:,}, max_points)")


@dataclass(frozen=True)
class Cloud:
    """What a file holds: points (N, 3), optional unit normals (N, 3), optional triangles (F, 3) into points."""

    points: np.ndarray
    normals: np.ndarray | None = None
    triangles: np.ndarray | None = None


def polygon_fans(item: object, polygons: list[list[int] | None], n_vertices: int) -> np.ndarray | None:
    """Polygons (vertex index lists) -> triangles (F, 3) by fans from each polygon's first vertex."""
    if not polygons:
        return None
    triangles: list[np.ndarray] = []
    by_size: dict[int, list[list[int]]] = {}
    for number, polygon in enumerate(polygons):
        if polygon is None:
            raise InputError(item, f"face {number}: fewer vertex indices than its count says")
        if len(polygon) >= 3:
            by_size.setdefault(len(polygon), []).append(polygon)
    for size, group in sorted(by_size.items()):
        triangles.append(fan_triangles(np.asarray(group, dtype=np.int64), size))
    if not triangles:
        return None
    out = np.concatenate(triangles)
    if out.min() < 0 or out.max() >= n_vertices:
        raise InputError(item, f"a face refers to a vertex outside 0..{n_vertices - 1}")
    return out


def fan_triangles(faces: np.ndarray, size: int) -> np.ndarray:
    """(F, size) polygons -> (F * (size - 2), 3) triangles ``(v0, vi, vi+1)``."""
    first = np.repeat(faces[:, :1], size - 2, axis=1)
    return np.stack([first, faces[:, 1:-1], faces[:, 2:]], axis=-1).reshape(-1, 3)
