"""``ProcessorConfig``: every preprocessing constant in one place (defaults = the released LanguageBind checkpoints)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from languagebind.constants import AUDIO_MEAN, AUDIO_STD
from languagebind.errors import ConfigError

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class ProcessorConfig:
    """Constants of the modality processors, plus input size limits.

    Attributes:
        image_size: side of the square crop for image, thermal, depth and video frames.
        mean, std: per-channel normalisation (OpenAI CLIP constants, also used for depth and video).
        max_depth: depth in metres mapped to 1.0 (values clipped to [0.01, max_depth]); 0 divides by the image max.
        num_frames: frames sampled per video at ``linspace(0, n - 1, num_frames)``.
        num_mel_bins, target_length: audio "image" = mel bins x fbank frames (10 ms each).
        sample_rate: audio is resampled to this rate before the fbank.
        audio_mean, audio_std: fbank normalisation ``(x - audio_mean) / (2 * audio_std)``.
        max_image_pixels: larger images (or video frames, depth maps) are rejected.
        max_aspect_ratio: longer/shorter side above this is rejected (the short side is resized to image_size).
        max_audio_seconds, max_video_seconds: longer inputs are rejected.
        options: settings of a registered modality that the fields above do not cover (its spec documents them).
    """

    image_size: int = 224
    mean: tuple[float, float, float] = OPENAI_MEAN
    std: tuple[float, float, float] = OPENAI_STD
    max_depth: float = 10.0
    num_frames: int = 8
    num_mel_bins: int = 112
    target_length: int = 1036
    sample_rate: int = 16000
    audio_mean: float = AUDIO_MEAN
    audio_std: float = AUDIO_STD
    max_image_pixels: int = 100_000_000
    max_aspect_ratio: float = 100.0
    max_audio_seconds: float = 600.0
    max_video_seconds: float = 3600.0
    options: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        positive = {"image_size": self.image_size, "num_frames": self.num_frames, "sample_rate": self.sample_rate,
                    "target_length": self.target_length, "audio_std": self.audio_std,
                    "max_image_pixels": self.max_image_pixels, "max_aspect_ratio": self.max_aspect_ratio,
                    "max_audio_seconds": self.max_audio_seconds,
                    "max_video_seconds": self.max_video_seconds}
        for name, value in positive.items():
            if not value > 0:
                raise ConfigError(f"ProcessorConfig.{name} must be positive, got {value!r}")
        if self.num_mel_bins <= 3:
            raise ConfigError(f"ProcessorConfig.num_mel_bins must be > 3 (Kaldi mel banks), got {self.num_mel_bins}")
        if self.max_depth < 0:
            raise ConfigError(f"ProcessorConfig.max_depth must be >= 0, got {self.max_depth}")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ConfigError("ProcessorConfig.mean and std need 3 values each, std > 0")
