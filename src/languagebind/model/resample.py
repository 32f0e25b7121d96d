"""Resample learned position / temporal tables when a checkpoint is loaded into another geometry."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resample_positions(table: torch.Tensor, old_grid: tuple[int, int], new_grid: tuple[int, int],
                       antialias: bool = True) -> torch.Tensor:
    """A (1 + gh*gw, D) table with a leading CLS row -> (1 + new_gh*new_gw, D), bicubic on the grid.

    The official audio tower does the same (``resize_pos``: bicubic, antialias=True) to turn CLIP's
    16x16 grid into audio's 8x74 one. The CLS row is kept as it is.
    """
    if tuple(old_grid) == tuple(new_grid):
        return table
    cls, grid = table[:1], table[1:]
    d = grid.shape[-1]
    if grid.shape[0] != old_grid[0] * old_grid[1]:
        raise ValueError(f"position table has {grid.shape[0]} rows, grid {old_grid} needs {old_grid[0] * old_grid[1]}")
    image = grid.float().reshape(1, old_grid[0], old_grid[1], d).permute(0, 3, 1, 2)
    image = F.interpolate(image, size=tuple(new_grid), mode="bicubic", align_corners=False, antialias=antialias)
    grid = image.permute(0, 2, 3, 1).reshape(new_grid[0] * new_grid[1], d).to(table.dtype)
    return torch.cat([cls, grid], dim=0)


def resample_frames(table: torch.Tensor, num_frames: int) -> torch.Tensor:
    """A (1, T, D) temporal embedding or (T, D) per-frame CLS table -> T = ``num_frames``, bicubic in time."""
    squeeze = table.dim() == 2
    x = table.unsqueeze(0) if squeeze else table
    if x.shape[1] == num_frames:
        return table
    image = x.float().permute(0, 2, 1).unsqueeze(2)  # (1, D, 1, T)
    image = F.interpolate(image, size=(1, num_frames), mode="bicubic", align_corners=False)
    out = image.squeeze(2).permute(0, 2, 1).to(table.dtype)
    return out.squeeze(0) if squeeze else out


def resize_patch_kernel(kernel: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A patch-embedding kernel (D, C, p, p) or (D, C, t, p, p) -> spatial ``size``, by pseudo-inverse resizing
    (FlexiViT, Beyer et al. 2023): a patch resized bilinearly to the new size and embedded with the new kernel
    gives the token the old kernel gave the original patch (exactly when upsampling, in least squares otherwise).
    """
    old = tuple(kernel.shape[-2:])
    if old == tuple(size):
        return kernel
    basis = torch.eye(old[0] * old[1], dtype=torch.float64).reshape(-1, 1, *old)
    resize = F.interpolate(basis, size=tuple(size), mode="bilinear", align_corners=False, antialias=False)
    resize = resize.reshape(old[0] * old[1], size[0] * size[1])  # row i: basis patch i, resized
    flat = kernel.double().reshape(-1, old[0] * old[1])
    new = flat @ torch.linalg.pinv(resize).T  # solve resize @ w' = w for each kernel row
    return new.reshape(*kernel.shape[:-2], *size).to(kernel.dtype)
