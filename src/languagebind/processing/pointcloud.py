"""Point clouds: a file or array -> (num_points, 3) or (num_points, 6) float32, deterministic.

Pipeline: read (``pointfiles``: npy / npz / ply / off / xyz / txt / h5) -> a mesh's surface is sampled
(area-weighted, seeded) -> checks (finite, enough distinct points) -> a very large cloud is first thinned to
``presample_factor * num_points`` by a seeded draw -> farthest-point sampling (FPS) to ``num_points``, starting
from the point farthest from the centroid -> centred on the sample's mean and scaled so the farthest point lies
on the unit sphere -> optional unit normals as channels 3..5.

The points come out in FPS order, so the first ``G`` of them are also the ``G`` FPS centres the point tokenizer
(``model/points.py``, start index 0) picks. A cloud with fewer than ``num_points`` (but at least
``min_points``) points is padded by repeating its FPS order. The same file always gives the same tensor.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from languagebind.errors import ConfigError, InputError
from languagebind.processing.clouds import Cloud, PointFileLimits
from languagebind.processing.constants import ProcessorConfig
from languagebind.processing.pointfiles import SUFFIXES, read_cloud

__all__ = ["SUFFIXES", "PointCloudConfig", "farthest_point_order", "load_point_cloud", "load_point_item",
           "point_config", "point_shape", "preprocess_cloud", "preview_points"]


@dataclass(frozen=True)
class PointCloudConfig:
    """Point-cloud preprocessing constants and input limits.

    Attributes:
        num_points: points per item after farthest-point sampling.
        normals: append unit normals (channels 3..5); a file without normals is then an error.
        seed: seeds the surface sampling of meshes and the thinning of very large clouds.
        mesh_samples: points drawn from a mesh's surface (before FPS); 0 uses the mesh's vertices instead.
        presample_factor: clouds above ``presample_factor * num_points`` points are first thinned to that many.
        min_points: fewer distinct points than this is an error ("too few points").
        max_points: more points (declared or read) than this is an error.
        max_file_bytes: larger files are rejected before reading.
    """

    num_points: int = 2048
    normals: bool = False
    seed: int = 0
    mesh_samples: int = 10_000
    presample_factor: int = 8
    min_points: int = 32
    max_points: int = 20_000_000
    max_file_bytes: int = 1 << 30

    def __post_init__(self) -> None:
        for name in ("num_points", "presample_factor", "min_points", "max_points", "max_file_bytes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"PointCloudConfig.{name} must be positive, got {getattr(self, name)!r}")
        if self.mesh_samples < 0:
            raise ConfigError(f"PointCloudConfig.mesh_samples must be >= 0, got {self.mesh_samples}")
        if self.min_points > self.num_points:
            raise ConfigError(f"PointCloudConfig.min_points {self.min_points} exceeds num_points {self.num_points}")

    @property
    def channels(self) -> int:
        return 6 if self.normals else 3

    @property
    def limits(self) -> PointFileLimits:
        return PointFileLimits(self.max_points, self.max_file_bytes)


def point_config(cfg: ProcessorConfig) -> PointCloudConfig:
    """The ``PointCloudConfig`` in ``cfg.options`` (its field names; the tower fills ``num_points`` and
    ``normals``); an unknown option is a ``ConfigError``."""
    known = {f.name for f in fields(PointCloudConfig)}
    unknown = sorted(set(cfg.options) - known)
    if unknown:
        raise ConfigError(f"unknown point-cloud option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return PointCloudConfig(**cfg.options)


def load_point_item(item: object, cfg: ProcessorConfig) -> torch.Tensor:
    """The point modality's loader: one item -> (num_points, 3|6) float32 (the spec names it)."""
    return load_point_cloud(item, point_config(cfg))


def augment_point_item(item: object, cfg: ProcessorConfig, aug: object, rng: np.random.Generator) -> torch.Tensor:
    """Training augmentation (the spec names it): the preprocessed cloud scaled per axis by U(2/3, 3/2), shifted
    by U(-0.2, 0.2) per axis (as Point-BERT and ULIP train), and mirrored left-right (x) with the augmentation's
    ``flip`` probability (normals follow)."""
    points = load_point_item(item, cfg)
    scale = torch.from_numpy(rng.uniform(2 / 3, 3 / 2, size=3)).float()
    shift = torch.from_numpy(rng.uniform(-0.2, 0.2, size=3)).float()
    mirror = rng.random() < float(getattr(aug, "flip", 0.0))
    sign = torch.tensor([-1.0 if mirror else 1.0, 1.0, 1.0])
    out = points.clone()
    out[:, :3] = points[:, :3] * scale * sign + shift
    if points.shape[1] == 6:  # normals of the scaled surface: divide by the scale, renormalise
        normals = points[:, 3:] / scale * sign
        out[:, 3:] = torch.nn.functional.normalize(normals, dim=1)
    return out


def point_shape(cfg: ProcessorConfig) -> tuple[int, ...]:
    """Shape of one preprocessed point cloud: (num_points, 3), or (num_points, 6) with normals."""
    config = point_config(cfg)
    return (config.num_points, config.channels)


def preview_points(points: np.ndarray | torch.Tensor, size: int = 96) -> np.ndarray:
    """A preprocessed cloud (N, >=3) -> (size, size, 3) uint8: seen from the front (x right, y up), nearer points
    (larger z) drawn later and brighter, on white."""
    xyz = np.asarray(points, dtype=np.float64)[:, :3]
    image = np.full((size, size, 3), 255, dtype=np.uint8)
    order = np.argsort(xyz[:, 2], kind="stable")
    column = np.clip(((xyz[order, 0] + 1) / 2 * (size - 1)).round().astype(int), 0, size - 1)
    row = np.clip(((1 - xyz[order, 1]) / 2 * (size - 1)).round().astype(int), 0, size - 1)
    shade = (200 - (xyz[order, 2] + 1) / 2 * 170).clip(0, 255).astype(np.uint8)
    image[row, column] = np.stack([shade // 3, shade // 2, shade], axis=1)
    return image


def load_point_cloud(item: object, config: PointCloudConfig | None = None) -> torch.Tensor:
    """A point-cloud item (path, ``file.h5#index``, (N, 3|6) array or tensor) -> (num_points, 3|6) float32."""
    config = config or PointCloudConfig()
    return preprocess_cloud(read_cloud(item, config.limits), config, item)


def preprocess_cloud(cloud: Cloud, config: PointCloudConfig, item: object = "<points>") -> torch.Tensor:
    """A ``Cloud`` -> (num_points, 3|6) float32: surface sampling, checks, FPS, unit-sphere normalisation."""
    points, normals = cloud.points, cloud.normals
    if points.shape[0] == 0:
        raise InputError(item, "no points (empty cloud)")
    if not np.isfinite(points).all():
        raise InputError(item, "point coordinates contain NaN or infinite values")
    if cloud.triangles is not None and config.mesh_samples:
        points, normals = sample_surface(points, cloud.triangles, config.mesh_samples, config.seed, item)
    if config.normals and normals is None:
        raise InputError(item, "has no normals, and normals=True needs them (give x y z nx ny nz, or a mesh)")
    if config.normals and not np.isfinite(normals).all():
        raise InputError(item, "normals contain NaN or infinite values")
    distinct = _distinct_count(points, config.min_points)
    if distinct < config.min_points:
        raise InputError(item, f"too few points: {distinct} distinct, at least {config.min_points} needed "
                               "(min_points)")
    cap = config.presample_factor * config.num_points
    if points.shape[0] > cap:
        keep = np.sort(np.random.default_rng(config.seed).choice(points.shape[0], cap, replace=False))
        points = points[keep]
        normals = normals[keep] if normals is not None else None
    order = farthest_point_order(points, min(config.num_points, points.shape[0]), _start_index(points))
    if order.size < config.num_points:
        order = order[np.arange(config.num_points) % order.size]
    sampled = points[order]
    centred = sampled - sampled.mean(axis=0)
    radius = np.sqrt((centred ** 2).sum(axis=1)).max()
    if not radius > 0:
        raise InputError(item, "all points coincide (the cloud has no extent)")
    out = centred / radius
    if config.normals:
        unit = normals[order]
        length = np.sqrt((unit ** 2).sum(axis=1, keepdims=True))
        unit = np.divide(unit, length, out=np.zeros_like(unit), where=length > 0)
        out = np.concatenate([out, unit], axis=1)
    return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32))


def farthest_point_order(points: np.ndarray, count: int, start: int = 0) -> np.ndarray:
    """Indices of ``count`` points by farthest-point sampling from ``start`` (ties: the lowest index).

    One vectorised distance update per picked point (O(count x N)), in float64, ``dx² + dy² + dz²`` in that order,
    into preallocated buffers.
    """
    n = points.shape[0]
    if not 0 < count <= n:
        raise ValueError(f"cannot pick {count} of {n} points")
    x, y, z = (np.ascontiguousarray(points[:, axis], dtype=np.float64) for axis in range(3))
    order = np.empty(count, dtype=np.int64)
    nearest = np.full(n, np.inf)
    distance, scratch = np.empty(n), np.empty(n)
    current = start
    for i in range(count):
        order[i] = current
        np.subtract(x, x[current], out=distance)
        np.multiply(distance, distance, out=distance)
        for axis in (y, z):
            np.subtract(axis, axis[current], out=scratch)
            np.multiply(scratch, scratch, out=scratch)
            distance += scratch
        np.minimum(nearest, distance, out=nearest)
        current = int(nearest.argmax())
    return order


def sample_surface(vertices: np.ndarray, triangles: np.ndarray, count: int, seed: int,
                   item: object = "<mesh>") -> tuple[np.ndarray, np.ndarray]:
    """``count`` points drawn uniformly over a triangle mesh's area (seeded), with their faces' unit normals.

    A mesh without area (every face degenerate) gives its vertices instead, without normals.
    """
    corners = vertices[triangles]  # (F, 3, 3)
    cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    doubled_area = np.sqrt((cross ** 2).sum(axis=1))
    total = doubled_area.sum()
    if not np.isfinite(total):
        raise InputError(item, "mesh faces have NaN or infinite area")
    if total <= 0:
        return vertices, np.zeros_like(vertices)
    rng = np.random.default_rng(seed)
    faces = rng.choice(len(triangles), size=count, p=doubled_area / total)
    u, v = rng.random(count), rng.random(count)
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    a, b, c = corners[faces, 0], corners[faces, 1], corners[faces, 2]
    points = a + u[:, None] * (b - a) + v[:, None] * (c - a)
    normals = cross[faces] / np.where(doubled_area[faces] > 0, doubled_area[faces], 1.0)[:, None]
    return points, normals


def _start_index(points: np.ndarray) -> int:
    """FPS starts from the point farthest from the centroid: independent of the order of the points in the file."""
    centred = points - points.mean(axis=0)
    return int(np.argmax(np.einsum("ij,ij->i", centred, centred)))


def _distinct_count(points: np.ndarray, enough: int) -> int:
    """Number of distinct points, counting no further than ``enough`` (cheap on big clouds)."""
    head = points[: max(enough * 64, 4096)]
    count = np.unique(head, axis=0).shape[0]
    if count >= enough or head.shape[0] == points.shape[0]:
        return count
    return np.unique(points, axis=0).shape[0]
