"""One ``Processor`` per modality: items (paths or in-memory objects) -> the batch tensor the tower takes.

The modality's spec (``languagebind.registry``) names its loader and item shape; the built-in ones are below.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from languagebind.errors import InputError
from languagebind.processing.audio import load_audio
from languagebind.processing.constants import ProcessorConfig
from languagebind.processing.depth import load_depth
from languagebind.processing.image import ImageLimits, load_image
from languagebind.processing.video import load_video
from languagebind.registry import get_modality, is_modality, modality_names

Loader = Callable[[object, ProcessorConfig], torch.Tensor]


def limits_of(cfg: ProcessorConfig) -> ImageLimits:
    return ImageLimits(cfg.max_image_pixels, cfg.max_aspect_ratio)


# -- the built-in modalities' hooks (their specs in languagebind/modalities/ name these) ----------------------
def load_image_item(item: object, cfg: ProcessorConfig) -> torch.Tensor:
    return load_image(item, cfg.image_size, cfg.mean, cfg.std, limits_of(cfg), "an image")


def load_thermal_item(item: object, cfg: ProcessorConfig) -> torch.Tensor:
    return load_image(item, cfg.image_size, cfg.mean, cfg.std, limits_of(cfg), "a thermal image")


def load_depth_item(item: object, cfg: ProcessorConfig) -> torch.Tensor:
    return load_depth(item, cfg.image_size, cfg.mean, cfg.std, cfg.max_depth, limits_of(cfg))


def load_audio_item(item: object, cfg: ProcessorConfig) -> torch.Tensor:
    return load_audio(item, cfg.sample_rate, cfg.num_mel_bins, cfg.target_length, cfg.audio_mean, cfg.audio_std,
                      cfg.max_audio_seconds)


def load_video_item(item: object, cfg: ProcessorConfig) -> torch.Tensor:
    return load_video(item, cfg.num_frames, cfg.image_size, cfg.mean, cfg.std, limits_of(cfg), cfg.max_video_seconds)


def still_shape(cfg: ProcessorConfig) -> tuple[int, ...]:
    return (3, cfg.image_size, cfg.image_size)


def clip_shape(cfg: ProcessorConfig) -> tuple[int, ...]:
    return (3, cfg.num_frames, cfg.image_size, cfg.image_size)


def spectrogram_shape(cfg: ProcessorConfig) -> tuple[int, ...]:
    return (3, cfg.num_mel_bins, cfg.target_length)


class Processor:
    """Deterministic preprocessing of one modality (see docs/processing.md for each pipeline)."""

    def __init__(self, modality: str, config: ProcessorConfig | None = None) -> None:
        if not is_modality(modality):
            raise InputError(modality, f"unknown modality; known: {', '.join(modality_names())}")
        self.modality = modality
        self.spec = get_modality(modality)
        self.config = config or ProcessorConfig()
        self.limits = limits_of(self.config)
        self._loader: Loader = self.spec.resolve("loader")

    def output_shape(self) -> tuple[int, ...]:
        """Shape of one preprocessed item (the spec's ``item_shape``): image (3, S, S), video (3, T, S, S), ..."""
        return tuple(self.spec.resolve("item_shape")(self.config))

    def load(self, item: object) -> torch.Tensor:
        """One item -> float32 tensor of ``output_shape()``; bad input raises ``InputError`` naming it."""
        if item is None:
            raise InputError(item, f"expected a {self.modality} item, got None")
        return self._loader(item, self.config)

    def __call__(self, items: Sequence[object]) -> torch.Tensor:
        """A non-empty sequence of items -> stacked batch (B, *output_shape())."""
        if isinstance(items, (str, Path)) or not isinstance(items, Sequence):
            raise InputError(items, f"expected a list of {self.modality} items, got {type(items).__name__}")
        if len(items) == 0:
            raise InputError(self.modality, "no items given (empty list)")
        return torch.stack([self.load(item) for item in items])

    def __repr__(self) -> str:
        return f"Processor({self.modality!r}, {self.config})"


def build_processor(modality: str, config: ProcessorConfig | None = None) -> Processor:
    """The processor of ``modality`` (a registered one) with ``config``'s constants."""
    return Processor(modality, config)
