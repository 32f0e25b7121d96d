"""Point-cloud tokens: FPS centres + k nearest neighbours -> mini-PointNet -> one token per group.

Point-BERT / ViT-Lens style: ``G`` centres by farthest-point sampling (start index 0, so a cloud preprocessed by
``processing/pointcloud.py``, which comes out in FPS order, gets its first ``G`` points as centres), each
centre's ``k`` nearest points expressed relative to it, a shared per-point MLP, a max-pool, the pooled feature
joined to every point's, a second shared MLP, a max-pool and a linear map -> one ``D`` vector per group; plus a
positional embedding of the centre's coordinates (a small MLP), and a CLS token with its own position.

The geometry (FPS, kNN) runs in float32 without gradients whatever the module's dtype; everything is batched
tensor code (the only Python loop is over the ``G`` FPS steps).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from languagebind.errors import ConfigError

if TYPE_CHECKING:
    from languagebind.model.config import VisionConfig

DEFAULT_GROUPS = 128


def farthest_point_sample(xyz: torch.Tensor, count: int) -> torch.Tensor:
    """(B, N, 3) -> (B, count) indices by farthest-point sampling from index 0 (ties: the lowest index).

    Per step, one distance update per coordinate into preallocated (B, N) buffers (``dx² + dy² + dz²`` in that
    order, as ``processing.pointcloud.farthest_point_order``): small strided reductions over the 3 coordinates
    are what made the naive loop slow."""
    b, n, _ = xyz.shape
    if not 0 < count <= n:
        raise ValueError(f"cannot pick {count} centres from {n} points")
    x, y, z = (xyz[..., axis].contiguous() for axis in range(3))
    index = torch.empty(b, count, dtype=torch.long, device=xyz.device)
    nearest = torch.full((b, n), float("inf"), dtype=xyz.dtype, device=xyz.device)
    distance, scratch = torch.empty_like(nearest), torch.empty_like(nearest)
    current = torch.zeros(b, 1, dtype=torch.long, device=xyz.device)
    for i in range(count):
        index[:, i] = current[:, 0]
        torch.sub(x, x.gather(1, current), out=distance)
        distance.mul_(distance)
        for axis in (y, z):
            torch.sub(axis, axis.gather(1, current), out=scratch)
            distance.add_(scratch.mul_(scratch))
        torch.minimum(nearest, distance, out=nearest)
        current = nearest.argmax(-1, keepdim=True)
    return index


def group_points(points: torch.Tensor, num_groups: int, group_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, N, C) -> neighbourhoods (B, G, k, C) with xyz relative to their centre, and centres (B, G, 3).

    Channels after the first three (e.g. normals) are kept as they are.
    """
    b, n, _ = points.shape
    if group_size > n:
        raise ValueError(f"group_size {group_size} exceeds the {n} points of the input")
    with torch.no_grad():
        xyz = points[..., :3].detach().float()
        rows = torch.arange(b, device=points.device)[:, None]
        centres = xyz[rows, farthest_point_sample(xyz, num_groups)]  # (B, G, 3)
        distance = torch.cdist(centres, xyz, compute_mode="donot_use_mm_for_euclid_dist")  # (B, G, N)
        neighbours = distance.topk(group_size, dim=-1, largest=False, sorted=True).indices  # (B, G, k)
    groups = points[rows[:, :, None], neighbours]  # (B, G, k, C)
    relative = groups[..., :3] - centres.to(points.dtype)[:, :, None]
    return torch.cat([relative, groups[..., 3:]], dim=-1), centres


class MiniPointNet(nn.Module):
    """A neighbourhood (B, G, k, C) -> one vector per group (B, G, D): shared MLP, max-pool, the pooled feature
    joined to every point's, a second shared MLP, max-pool.

    The join is computed without concatenating: a linear map of ``[pooled, local]`` is ``mix_local(local) +
    mix_pooled(pooled)``, the pooled half once per group instead of once per point (the same function, half the
    work; two plain ``nn.Linear`` so int8 quantisation and hooks see them). Per point the features stay ``out``
    wide; the pooled group feature is projected to the tower's width once per group (as
    ULIP's Point-BERT ``reduce_dim``). LayerNorm stands where Point-BERT has BatchNorm, so a group's token never
    depends on the rest of the batch.
    """

    def __init__(self, in_channels: int, width: int, hidden: int = 128, middle: int = 256, out: int = 256) -> None:
        super().__init__()
        self.first = nn.Sequential(nn.Linear(in_channels, hidden), nn.LayerNorm(hidden), nn.GELU(),
                                   nn.Linear(hidden, middle))
        self.mix_local = nn.Linear(middle, 2 * middle, bias=False)
        self.mix_pooled = nn.Linear(middle, 2 * middle)
        self.second = nn.Sequential(nn.LayerNorm(2 * middle), nn.GELU(), nn.Linear(2 * middle, out))
        self.project = nn.Linear(out, width)

    def forward(self, groups: torch.Tensor) -> torch.Tensor:
        local = self.first(groups)  # (B, G, k, M)
        pooled = local.amax(dim=2)  # (B, G, M)
        joined = self.mix_local(local) + self.mix_pooled(pooled).unsqueeze(2)
        return self.project(self.second(joined).amax(dim=2))


class PointGroupEmbed(nn.Module):
    """Point cloud (B, N, C) -> tokens (B, G + 1, D) with CLS and centre-coordinate positions, and 1 frame.

    The same interface as ``PatchEmbed``: ``forward(batch) -> (tokens, frames)``.
    """

    def __init__(self, width: int, num_groups: int = 128, group_size: int = 32, in_channels: int = 3,
                 hidden: int = 128, position_hidden: int = 128) -> None:
        super().__init__()
        if in_channels < 3:
            raise ValueError(f"points need at least 3 channels (xyz), got {in_channels}")
        if num_groups < 1 or group_size < 1:
            raise ValueError("num_groups and group_size must be positive")
        self.num_groups, self.group_size, self.in_channels = num_groups, group_size, in_channels
        self.encoder = MiniPointNet(in_channels, width, hidden, 2 * hidden, 2 * hidden)
        self.position = nn.Sequential(nn.Linear(3, position_hidden), nn.GELU(), nn.Linear(position_hidden, width))
        self.class_embedding = nn.Parameter(torch.empty(width).normal_(std=0.02))
        self.class_position = nn.Parameter(torch.empty(width).normal_(std=0.02))

    @property
    def num_positions(self) -> int:
        return self.num_groups + 1

    def forward(self, points: torch.Tensor) -> tuple[torch.Tensor, int]:
        """points (B, N, C) -> tokens (B, G + 1, D) and 1."""
        if points.dim() != 3 or points.shape[-1] != self.in_channels:
            raise ValueError(f"expected a (B, N, {self.in_channels}) point tensor, got shape {tuple(points.shape)}")
        dtype = self.class_embedding.dtype
        groups, centres = group_points(points, self.num_groups, self.group_size)
        tokens = self.encoder(groups.to(dtype)) + self.position(centres.to(dtype))
        cls = (self.class_embedding + self.class_position).expand(points.shape[0], 1, -1)
        return torch.cat([cls, tokens], dim=1), 1

    @torch.no_grad()
    def init_weights(self, generator: torch.Generator | None = None) -> None:
        """Random start of the CLS token and its position (the linear layers take the tower's default)."""
        for parameter in (self.class_embedding, self.class_position):
            torch.randn(parameter.shape, generator=generator, out=parameter.data).mul_(0.02)


class PointTokens(PointGroupEmbed):
    """The point modality's token module, built from its tower config: ``num_channels`` 3 (xyz) or 6 (with
    normals), ``image_size`` ``(1, num_points)``, ``patch_size`` = points per group (k), ``options["num_groups"]``
    = G (default 128), ``options["point_hidden"]``: the mini-PointNet's first width (default 128; the per-point
    features are twice that; a small CPU tower such as the demo's uses 32)."""

    def __init__(self, cfg: VisionConfig) -> None:
        num_groups = int(cfg.options.get("num_groups", DEFAULT_GROUPS))
        num_points = cfg.image_size[1]
        if not 0 < num_groups <= num_points or not 0 < cfg.patch_size <= num_points:
            raise ConfigError(f"point tower: {num_groups} groups of {cfg.patch_size} points need 1..{num_points} "
                              f"each (image_size (1, num_points) = {cfg.image_size})")
        if cfg.num_channels not in (3, 6):
            raise ConfigError(f"point tower: num_channels must be 3 (xyz) or 6 (xyz + normals), got "
                              f"{cfg.num_channels}")
        hidden = int(cfg.options.get("point_hidden", 128))
        super().__init__(cfg.transformer.width, num_groups, cfg.patch_size, cfg.num_channels, hidden)
