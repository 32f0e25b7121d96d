"""Training-time augmentation, kept apart from the deterministic inference processors it wraps.

Each function decodes with the processor's own readers and finishes with the processor's own transform; only
the random step in between is ours:

* video (official training: ``ShortSideScale`` -> ``RandomCropVideo`` -> ``RandomHorizontalFlipVideo(0.5)``): a
  random square window of the frames (side = short side x sqrt(scale), scale drawn from ``crop_scale``; the
  official recipe is scale 1, i.e. a random offset along the long side), then the processor's resize + crop, then
  a horizontal flip with probability ``flip``. The same window and flip apply to every frame.
* image, thermal, depth: the same random window and flip (the official recipe has none for thermal and depth; the
  paper-recipe configs turn augmentation off for them).
* audio (official ``process_audio.py``): for clips longer than ``target_length`` fbank frames, three chunks at
  random starts in the front / middle / back thirds of the possible range instead of the fixed ones.

All randomness comes from the ``numpy.random.Generator`` passed in (seeded per sample by the stream). Each
modality's spec names its function here (``augment``); ``augment_item`` dispatches on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from languagebind.errors import InputError
from languagebind.processing.audio import read_audio, waveform_to_melspec
from languagebind.processing.constants import ProcessorConfig
from languagebind.processing.depth import depth_to_unit, read_depth_metres
from languagebind.processing.fbank import frame_geometry, num_frames, resample
from languagebind.processing.image import ImageLimits, image_transform, open_image, pil_to_tensor, to_rgb
from languagebind.processing.inputs import decode_errors
from languagebind.processing.processor import build_processor
from languagebind.processing.video import read_video_frames, video_transform
from languagebind.registry import get_modality


@dataclass(frozen=True)
class AugmentConfig:
    """``crop_scale``: range of the crop window's area relative to the largest centred square (1, 1 = official);
    ``flip``: probability of a horizontal flip; ``audio_chunks``: random fbank chunks for long audio."""

    crop_scale: tuple[float, float] = (1.0, 1.0)
    flip: float = 0.5
    audio_chunks: bool = True

    def __post_init__(self) -> None:
        lo, hi = self.crop_scale
        if not 0 < lo <= hi <= 1 or not 0 <= self.flip <= 1:
            raise ValueError(f"bad augmentation settings {self}")


def crop_window(height: int, width: int, scale: tuple[float, float], rng: np.random.Generator) -> tuple[int, int, int]:
    """A random square (top, left, side) inside ``height`` x ``width``."""
    short = min(height, width)
    area = scale[0] if scale[0] == scale[1] else rng.uniform(*scale)
    side = max(1, min(short, round(short * math.sqrt(area))))
    top = int(rng.integers(height - side + 1))
    left = int(rng.integers(width - side + 1))
    return top, left, side


def augment_item(modality: str, item: object, cfg: ProcessorConfig, aug: AugmentConfig,
                 rng: np.random.Generator) -> torch.Tensor:
    """One item -> the tensor the processor would give, with the modality's training randomness applied (its
    spec's ``augment``; a modality without one gets the processor's deterministic tensor)."""
    spec = get_modality(modality)
    hook = spec.resolve("augment")
    if hook is None:
        return build_processor(modality, cfg).load(item)
    return hook(item, cfg, aug, rng)


def augment_video(item: object, cfg: ProcessorConfig, aug: AugmentConfig, rng: np.random.Generator) -> torch.Tensor:
    """One random window and flip for every frame of the clip."""
    limits = ImageLimits(cfg.max_image_pixels, cfg.max_aspect_ratio)
    frames = read_video_frames(item, cfg.num_frames, limits, cfg.max_video_seconds)  # (T, H, W, 3) uint8
    top, left, side = crop_window(frames.shape[1], frames.shape[2], aug.crop_scale, rng)
    x = video_transform(frames[:, top:top + side, left:left + side], cfg.image_size, cfg.mean, cfg.std)
    return _flipped(x, aug, rng)


def augment_image(item: object, cfg: ProcessorConfig, aug: AugmentConfig, rng: np.random.Generator) -> torch.Tensor:
    return _picture(item, cfg, aug, rng, "an image")


def augment_thermal(item: object, cfg: ProcessorConfig, aug: AugmentConfig, rng: np.random.Generator) -> torch.Tensor:
    return _picture(item, cfg, aug, rng, "a thermal image")


def augment_depth(item: object, cfg: ProcessorConfig, aug: AugmentConfig, rng: np.random.Generator) -> torch.Tensor:
    limits = ImageLimits(cfg.max_image_pixels, cfg.max_aspect_ratio)
    return _window(depth_to_unit(read_depth_metres(item, limits), cfg.max_depth), cfg, aug, rng)


def _picture(item: object, cfg: ProcessorConfig, aug: AugmentConfig, rng: np.random.Generator,
             what: str) -> torch.Tensor:
    image = open_image(item, ImageLimits(cfg.max_image_pixels, cfg.max_aspect_ratio), what)
    with decode_errors(item, what):
        unit = pil_to_tensor(to_rgb(image, item))
    return _window(unit, cfg, aug, rng)


def _window(unit: torch.Tensor, cfg: ProcessorConfig, aug: AugmentConfig, rng: np.random.Generator) -> torch.Tensor:
    """A random square window of a (3, H, W) unit-range picture, the processor's transform, a random flip."""
    top, left, side = crop_window(unit.shape[1], unit.shape[2], aug.crop_scale, rng)
    x = image_transform(unit[:, top:top + side, left:left + side].contiguous(), cfg.image_size, cfg.mean, cfg.std)
    return _flipped(x, aug, rng)


def _flipped(x: torch.Tensor, aug: AugmentConfig, rng: np.random.Generator) -> torch.Tensor:
    if rng.random() < aug.flip:
        x = x.flip(-1)
    return x.contiguous()


def augment_audio(item: object, cfg: ProcessorConfig, aug: AugmentConfig, rng: np.random.Generator) -> torch.Tensor:
    return _audio(item, cfg, aug, rng)


def _audio(item: object, cfg: ProcessorConfig, aug: AugmentConfig, rng: np.random.Generator) -> torch.Tensor:
    waveform, rate = read_audio(item, cfg.max_audio_seconds)
    if rate != cfg.sample_rate:
        waveform = resample(waveform, rate, cfg.sample_rate)
    if waveform.shape[-1] < frame_geometry(cfg.sample_rate)[0]:
        raise InputError(item, "audio too short for one 25 ms fbank frame")
    frames, target = num_frames(waveform.shape[-1], cfg.sample_rate), cfg.target_length
    if not aug.audio_chunks or frames <= target:
        return waveform_to_melspec(waveform, cfg.sample_rate, cfg.num_mel_bins, target, cfg.audio_mean, cfg.audio_std)
    # The whole clip as one normalised (mel, frames) image (the processor's 3 identical channels), then the
    # official random chunk starts: np.array_split(range(frames - target + 1), 3), one draw per third.
    full = waveform_to_melspec(waveform, cfg.sample_rate, cfg.num_mel_bins, frames, cfg.audio_mean, cfg.audio_std)[0]
    thirds = [r if len(r) else np.array([0]) for r in np.array_split(np.arange(frames - target + 1), 3)]
    return torch.stack([full[:, s:s + target] for s in (int(rng.choice(r)) for r in thirds)])
