"""Image (and thermal) decoding plus the tensor transforms shared with depth and video.

Official pipeline (image/processing_image.py, thermal identical): ``PIL.Image.open`` -> ``ToTensor`` (/255) ->
``Resize(224, BICUBIC)`` on the float tensor (torchvision 0.15: ``interpolate(antialias=False)``, no clamp) ->
``CenterCrop(224)`` (offsets ``int(round((h - 224) / 2))``, half to even) -> ``Normalize(OpenAI mean, std)``.
EXIF orientation is NOT applied (as officially). Modes other than RGB are converted (the official code crashes).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from languagebind.errors import InputError
from languagebind.processing.inputs import decode_errors, existing_file

_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
WHITE = (255, 255, 255)


def open_image(item: object, limits: ImageLimits, what: str = "an image") -> Image.Image:
    """A path or a PIL image -> a fully loaded PIL image (size checked before decoding the pixels)."""
    if isinstance(item, Image.Image):
        limits.check(item, *item.size)
        return item
    if not isinstance(item, (str, Path)):
        raise InputError(item, f"expected a file path or a PIL image, got {type(item).__name__}")
    path = existing_file(item)
    with decode_errors(item, what), warnings.catch_warnings(), _bomb_is_too_large(item):
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit is checked instead
        with Image.open(path) as image:
            limits.check(item, *image.size)
            image.load()
    return image


def to_rgb(image: Image.Image, item: object) -> Image.Image:
    """Any PIL mode -> RGB: alpha composited on white, 16-bit grey scaled to 8 bits (v / 257), palette expanded."""
    if image.mode == "RGB":
        return image
    if image.mode in _SIXTEEN_BIT_MODES:
        grey = np.clip(np.asarray(image, dtype=np.float64), 0, 65535) / 257.0
        return Image.fromarray(np.round(grey).astype(np.uint8), mode="L").convert("RGB")
    if image.mode == "F":
        raise InputError(item, "32-bit float images have no defined colour range; save as 8/16-bit or as depth .npy")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*WHITE, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """torchvision ``ToTensor`` for an RGB PIL image: (3, H, W) float32 = uint8 / 255."""
    array = np.array(image, dtype=np.uint8, copy=True)
    return torch.from_numpy(array).permute(2, 0, 1).contiguous().float().div(255)


def short_side_size(height: int, width: int, size: int, even: bool = False) -> tuple[int, int]:
    """(height, width) with the short side ``size``: torchvision's ``Resize(size)`` output, the long side
    ``int(size * long / short)``; ``even``: the long side the nearest even number instead (at least 2), as
    yuv420p video needs."""
    if even:
        scale = size / min(width, height)
        long_side = lambda x: max(2, 2 * round(x * scale / 2))  # noqa: E731
    else:
        long_side = lambda x: int(size * x / min(width, height))  # noqa: E731
    if width <= height:
        return long_side(height), size
    return size, long_side(width)


def resize_bicubic(x: torch.Tensor, size: int) -> torch.Tensor:
    """(C, H, W) float -> short side ``size``, bicubic, ``align_corners=False``, no antialias, no clamp."""
    height, width = short_side_size(x.shape[-2], x.shape[-1], size)
    if (height, width) == tuple(x.shape[-2:]):
        return x
    return F.interpolate(x[None], size=(height, width), mode="bicubic", align_corners=False, antialias=False)[0]


def center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """Crop the last two dims to ``size`` x ``size`` at ``int(round((h - size) / 2))`` (round half to even)."""
    height, width = x.shape[-2:]
    if height < size or width < size:
        raise ValueError(f"cannot centre-crop {height}x{width} to {size}")
    top = round((height - size) / 2.0)  # Python's round: half to even, as torchvision
    left = round((width - size) / 2.0)
    return x[..., top : top + size, left : left + size]


def normalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Per-channel ``(x - mean) / std`` on dim 0 of a (C, ...) float32 tensor."""
    shape = (-1,) + (1,) * (x.dim() - 1)
    mean_t = torch.as_tensor(mean, dtype=x.dtype).view(shape)
    std_t = torch.as_tensor(std, dtype=x.dtype).view(shape)
    return x.sub(mean_t).div_(std_t)


def image_transform(x: torch.Tensor, size: int, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """(3, H, W) in [0, 1] -> bicubic short side ``size`` -> centre crop -> normalise: (3, size, size)."""
    return normalize(center_crop(resize_bicubic(x, size), size).contiguous(), mean, std)


def load_image(item: object, size: int, mean: Sequence[float], std: Sequence[float], limits: ImageLimits,
               what: str = "an image") -> torch.Tensor:
    """A path or PIL image -> (3, size, size) float32, the official image/thermal preprocessing."""
    image = open_image(item, limits, what)
    with decode_errors(item, what):
        rgb = to_rgb(image, item)
    return image_transform(pil_to_tensor(rgb), size, mean, std)


@contextlib.contextmanager
def _bomb_is_too_large(item: object) -> Iterator[None]:
    try:
        yield
    except Image.DecompressionBombError as err:
        raise InputError(item, f"image too large: {err}") from err


@dataclass(frozen=True)
class ImageLimits:
    """Largest accepted picture: pixel count, and aspect ratio (the short side is upsampled to the crop size)."""

    max_pixels: int
    max_aspect_ratio: float

    def check(self, item: object, width: int, height: int) -> None:
        """Raise ``InputError`` naming ``item`` when ``width`` x ``height`` is empty or too large."""
        if width < 1 or height < 1:
            raise InputError(item, f"image has no pixels ({width}x{height})")
        if width * height > self.max_pixels:
            raise InputError(item, f"image too large: {width}x{height} = {width * height / 1e6:.1f} MP "
                                   f"(limit {self.max_pixels / 1e6:g} MP, ProcessorConfig.max_image_pixels)")
        if max(width, height) / min(width, height) > self.max_aspect_ratio:
            raise InputError(item, f"aspect ratio of {width}x{height} exceeds {self.max_aspect_ratio:g} "
                                   "(ProcessorConfig.max_aspect_ratio)")
