"""``SyntheticConfig``: everything that determines a VIDAL-mini dataset's content (same config, same bytes)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from languagebind.data.synthetic.vocab import CATEGORIES, COLOURS, Vocabulary
from languagebind.errors import ConfigError

GENERATOR_VERSION = "3"
SPLITS = ("train", "val", "test", "compositional")
OFFICIAL_KEYFRAMES = 8  # the official readers use keyframes 0..7
SENSORS = ("point", "imu")  # rendered only when asked for (``sensors``); the five VIDAL modalities always are


@dataclass(frozen=True)
class SyntheticConfig:
    """Parameters of a VIDAL-mini dataset; the defaults are the ``make demo`` preset (3,600 clips).

    Attributes:
        seed: every item's content derives from (seed, split, index) only.
        n_train, n_val, n_test: sizes of the in-distribution splits (no held-out combination).
        n_compositional: size of the split made only of held-out (category, attribute) combinations.
        frame_size: side of the square video frames, depth maps, thermal and still images (even, >= 32).
        num_frames: frames per clip; with ``fps`` it sets the clip and audio duration (16 / 8 = 2 s).
        n_keyframes: depth maps, thermal images and keyframe captions per clip, at frames ``k * (F // K)``.
        num_points: points of each clip's point cloud (sampled on its objects' surfaces, shared between them).
        sensors: which of ``SENSORS`` each clip also has: its point cloud, its IMU trace (default both; the
            default demo, which trains no tower for them, renders neither).
        categories, colours: the vocabulary used (subsets of the built-in ones, in this order).
        shard_size: clips per WebDataset shard.
        official_layout: also lay the media out as the official VIDAL loader expects (hard links).
        video_codec: ``libx264`` (default) or ``mpeg4``.
        jpeg_quality: quality of the still-image and thermal JPEGs.
    """

    seed: int = 0
    n_train: int = 2400
    n_val: int = 200
    n_test: int = 600
    n_compositional: int = 400
    frame_size: int = 64
    num_frames: int = 16
    fps: float = 8.0
    n_keyframes: int = OFFICIAL_KEYFRAMES
    num_points: int = 1024
    sensors: tuple[str, ...] = SENSORS
    categories: tuple[str, ...] = field(default_factory=lambda: tuple(c.name for c in CATEGORIES))
    colours: tuple[str, ...] = field(default_factory=lambda: tuple(COLOURS))
    shard_size: int = 256
    official_layout: bool = False
    video_codec: str = "libx264"
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        object.__setattr__(self, "categories", tuple(self.categories))
        object.__setattr__(self, "colours", tuple(self.colours))
        unknown = sorted(set(self.sensors) - set(SENSORS))
        if unknown:
            raise ConfigError(f"sensors {unknown}: VIDAL-mini renders {', '.join(SENSORS)}")
        object.__setattr__(self, "sensors", tuple(m for m in SENSORS if m in self.sensors))  # canonical order
        for name in ("n_train", "n_val", "n_test", "n_compositional"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.frame_size < 32 or self.frame_size % 2:
            raise ConfigError(f"frame_size must be even and >= 32, got {self.frame_size}")
        if not 1 <= self.n_keyframes <= self.num_frames:
            raise ConfigError(f"n_keyframes must be in 1..num_frames ({self.num_frames}), got {self.n_keyframes}")
        if not 32 <= self.num_points <= 100_000:
            raise ConfigError(f"num_points must be in 32..100000, got {self.num_points}")
        if self.official_layout and self.n_keyframes != OFFICIAL_KEYFRAMES:
            raise ConfigError(f"official_layout needs n_keyframes = {OFFICIAL_KEYFRAMES}, got {self.n_keyframes}")
        if self.fps <= 0 or self.shard_size < 1 or not 1 <= self.jpeg_quality <= 100:
            raise ConfigError("fps must be > 0, shard_size >= 1 and jpeg_quality in 1..100")
        if self.video_codec not in ("libx264", "mpeg4"):
            raise ConfigError(f"video_codec must be 'libx264' or 'mpeg4', got {self.video_codec!r}")
        self.vocabulary()  # validates the names

    @classmethod
    def tiny(cls, seed: int = 0, **overrides: Any) -> SyntheticConfig:
        """A 40-clip dataset for tests (20 / 4 / 8 / 8 clips, shards of 8)."""
        sizes = {"n_train": 20, "n_val": 4, "n_test": 8, "n_compositional": 8, "shard_size": 8}
        return cls(seed=seed, **(sizes | overrides))

    @property
    def duration(self) -> float:
        """Clip (and audio) length in seconds."""
        return self.num_frames / self.fps

    def keyframe_indices(self) -> list[int]:
        """The official rule: keyframe ``k`` is frame ``k * (num_frames // n_keyframes)``."""
        step = self.num_frames // self.n_keyframes
        return [k * step for k in range(self.n_keyframes)]

    def still_index(self) -> int:
        """The frame saved as the clip's still image (the middle keyframe)."""
        return self.keyframe_indices()[self.n_keyframes // 2]

    def split_sizes(self) -> dict[str, int]:
        return {"train": self.n_train, "val": self.n_val, "test": self.n_test,
                "compositional": self.n_compositional}

    def vocabulary(self) -> Vocabulary:
        return Vocabulary(self.categories, self.colours)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SyntheticConfig:
        """Inverse of ``to_dict``; unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown SyntheticConfig keys {sorted(unknown)}")
        return cls(**data)
