"""Depth maps: 16-bit PNG in millimetres or ``.npy`` / arrays in metres -> [0, 1] -> 3 channels -> image transform.

Official (depth/processing_depth.py): ``cv2.imread(IMREAD_UNCHANGED).astype(float32)`` -> ``/ 1000`` (metres) ->
``clip(min=0.01)`` -> ``clip(max=max_depth) / max_depth`` (``max_depth == 0``: divide by the image max) ->
``repeat(3, 1, 1)`` -> bicubic Resize / CenterCrop / OpenAI Normalize as for images.
8-bit or colour "depth" images are rejected: they are visualisations, not millimetre maps (docs/differences.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from languagebind.errors import InputError
from languagebind.processing.image import ImageLimits, image_transform, open_image
from languagebind.processing.inputs import decode_errors, existing_file

MILLIMETRES_PER_METRE = 1000.0
MIN_DEPTH_METRES = 0.01
_MILLIMETRE_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def read_depth_metres(item: object, limits: ImageLimits) -> np.ndarray:
    """A 16-bit depth image (path or PIL, mm), a ``.npy`` file or a 2-D array (metres) -> (H, W) float32 metres."""
    if isinstance(item, np.ndarray):
        return _check_metres(item, item, limits)
    if isinstance(item, torch.Tensor):
        return _check_metres(item.detach().cpu().numpy(), item, limits)
    if isinstance(item, (str, Path)) and Path(item).suffix.lower() == ".npy":
        path = existing_file(item)
        with decode_errors(item, "a depth array (.npy)"):
            array = np.load(path, allow_pickle=False)
        return _check_metres(array, item, limits)
    if not isinstance(item, (str, Path, Image.Image)):
        raise InputError(item, f"expected a depth file path, PIL image or array, got {type(item).__name__}")
    image = open_image(item, limits, "a depth image")
    if image.mode not in _MILLIMETRE_MODES:
        raise InputError(item, f"depth image mode {image.mode!r} is not a 16-bit millimetre map; give a 16-bit "
                               "PNG in mm or a .npy / array in metres")
    with decode_errors(item, "a depth image"):
        raw = np.asarray(image).astype(np.float32)
    if raw.min() < 0:
        raise InputError(item, "depth image has negative values")
    return raw / MILLIMETRES_PER_METRE


def depth_to_unit(metres: np.ndarray, max_depth: float) -> torch.Tensor:
    """(H, W) metres -> (3, H, W) float32 in [0, 1], the official ``DepthNorm`` (float32 numpy arithmetic)."""
    depth = np.clip(metres.astype(np.float32, copy=False), MIN_DEPTH_METRES, None)
    if max_depth != 0:
        depth = np.clip(depth, None, max_depth)
        depth /= max_depth
    else:
        depth /= depth.max()
    return torch.from_numpy(np.ascontiguousarray(depth)).unsqueeze(0).repeat(3, 1, 1).float()


def load_depth(item: object, size: int, mean: Sequence[float], std: Sequence[float], max_depth: float,
               limits: ImageLimits) -> torch.Tensor:
    """A depth item -> (3, size, size) float32, the official depth preprocessing."""
    return image_transform(depth_to_unit(read_depth_metres(item, limits), max_depth), size, mean, std)


def _check_metres(array: np.ndarray, item: object, limits: ImageLimits) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim == 3 and 1 in (array.shape[0], array.shape[-1]):
        array = array.reshape(array.shape[1:] if array.shape[0] == 1 else array.shape[:-1])
    if array.ndim != 2:
        raise InputError(item, f"a depth map must be 2-D (H, W) in metres, got shape {tuple(array.shape)}")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise InputError(item, f"a depth map must be numeric, got dtype {array.dtype}")
    limits.check(item, array.shape[1], array.shape[0])
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise InputError(item, "depth map contains NaN or infinite values")
    if array.min() < 0:
        raise InputError(item, "depth map has negative values")
    return array
