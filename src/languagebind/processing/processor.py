"""One ``Processor`` per modality: items (paths or in-memory objects) -> the batch tensor the tower takes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from languagebind.errors import InputError
from languagebind.processing.audio import load_audio
from languagebind.processing.constants import MODALITIES, ProcessorConfig
from languagebind.processing.depth import load_depth
from languagebind.processing.image import ImageLimits, load_image
from languagebind.processing.video import load_video

Loader = Callable[[object, ProcessorConfig, ImageLimits], torch.Tensor]


def _image(item: object, cfg: ProcessorConfig, limits: ImageLimits) -> torch.Tensor:
    return load_image(item, cfg.image_size, cfg.mean, cfg.std, limits, "an image")


def _thermal(item: object, cfg: ProcessorConfig, limits: ImageLimits) -> torch.Tensor:
    return load_image(item, cfg.image_size, cfg.mean, cfg.std, limits, "a thermal image")


def _depth(item: object, cfg: ProcessorConfig, limits: ImageLimits) -> torch.Tensor:
    return load_depth(item, cfg.image_size, cfg.mean, cfg.std, cfg.max_depth, limits)


def _audio(item: object, cfg: ProcessorConfig, limits: ImageLimits) -> torch.Tensor:
    return load_audio(item, cfg.sample_rate, cfg.num_mel_bins, cfg.target_length, cfg.audio_mean, cfg.audio_std,
                      cfg.max_audio_seconds)


def _video(item: object, cfg: ProcessorConfig, limits: ImageLimits) -> torch.Tensor:
    return load_video(item, cfg.num_frames, cfg.image_size, cfg.mean, cfg.std, limits, cfg.max_video_seconds)


LOADERS: dict[str, Loader] = {"image": _image, "thermal": _thermal, "depth": _depth, "audio": _audio,
                              "video": _video}


class Processor:
    """Deterministic preprocessing of one modality (see docs/processing.md for each pipeline)."""

    def __init__(self, modality: str, config: ProcessorConfig | None = None) -> None:
        if modality not in LOADERS:
            raise InputError(modality, f"unknown modality; known: {', '.join(MODALITIES)}")
        self.modality = modality
        self.config = config or ProcessorConfig()
        self.limits = ImageLimits(self.config.max_image_pixels, self.config.max_aspect_ratio)
        self._loader = LOADERS[modality]

    def output_shape(self) -> tuple[int, ...]:
        """Shape of one preprocessed item: (3, S, S), video (3, T, S, S), audio (3, mel, target)."""
        cfg = self.config
        if self.modality == "video":
            return (3, cfg.num_frames, cfg.image_size, cfg.image_size)
        if self.modality == "audio":
            return (3, cfg.num_mel_bins, cfg.target_length)
        return (3, cfg.image_size, cfg.image_size)

    def load(self, item: object) -> torch.Tensor:
        """One item -> float32 tensor of ``output_shape()``; bad input raises ``InputError`` naming it."""
        if item is None:
            raise InputError(item, f"expected a {self.modality} item, got None")
        return self._loader(item, self.config, self.limits)

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
    """The processor of ``modality`` (one of ``MODALITIES``) with ``config``'s constants."""
    return Processor(modality, config)
