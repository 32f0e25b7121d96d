"""``TrainConfig``: every training setting, read from YAML / JSON / TOML and overridden by ``KEY=VALUE`` strings.

Unknown keys are errors (a typo must not silently fall back to a default). Values of ``--set`` overrides are
parsed as YAML (``lr=1e-4``, ``augment=false``, ``vision.num_frames=8``, ``lr_multipliers={"*projection*": 10}``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from languagebind.errors import ConfigError
from languagebind.registry import is_modality, modality_names
from languagebind.utils.configfile import apply_overrides, find_config, read_config, to_dataclass

TUNING_MODES = ("lora", "partial", "attention", "full")


TRAIN_PRECISIONS = ("fp32", "bf16")


@dataclass
class TrainConfig:
    """Settings of one training run (defaults: a small CPU run; see configs/train/ for the paper recipes)."""

    # -- what is trained -----------------------------------------------------------------------------------
    modality: str = ""  # a registered modality (languagebind modalities); required
    init: str = "random:tiny"  # HF CLIPModel dir | LanguageBind checkpoint dir (official or ours) | random:<preset>
    vision: dict[str, Any] = field(default_factory=dict)  # official vision_config fields for a tower made from CLIP
    tuning: str = "lora"  # lora | partial (last N layers) | attention (the official "FT") | full
    lora_r: int = 16
    lora_alpha: float = 16.0
    lora_dropout: float = 0.0
    lora_targets: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "out_proj"])
    partial_layers: int = 2
    patch_dropout: float = 0.0  # official --force-patch-dropout: fraction of patches dropped in training
    init_temp: float | None = 0.07  # None keeps the checkpoint's temperature
    learn_temp: bool = True
    max_logit_scale: float = 100.0
    # hard negatives (TextViews.contrast): weight of the term ranking each item's true caption above them
    contrast_weight: float = 0.0
    contrast_temperature: float = 0.02
    # -- data ----------------------------------------------------------------------------------------------
    train_data: Any = None  # manifest .jsonl | annotation .json (+ data_root) | shard pattern / list
    val_data: Any = None
    data_root: str | None = None
    val_data_root: str | None = None
    val_samples: int = 256
    text_weights: Any = "mix"  # "mix" | a view name (ours or official) | {view: weight}
    val_text: Any = "mix"  # texts for the held-out check: the heaviest view present
    augment: bool = True
    crop_scale: list[float] = field(default_factory=lambda: [1.0, 1.0])
    flip: float = 0.5
    audio_chunks: bool = True
    workers: int = 0
    shuffle_buffer: int = 64
    max_bad_in_a_row: int = 16
    # -- optimisation --------------------------------------------------------------------------------------
    batch_size: int = 8  # per process
    accum_steps: int = 1
    max_steps: int = 100
    lr: float = 1e-4
    coef_lr: float = 1.0  # LoRA mode: lr multiplier of the trainable non-LoRA parameters (official --coef-lr)
    lr_multipliers: dict[str, float] = field(default_factory=dict)  # name glob -> multiplier (first match wins)
    weight_decay: float = 0.2
    betas: list[float] = field(default_factory=lambda: [0.9, 0.98])
    eps: float = 1e-6
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0
    grad_clip_norm: float | None = None
    # -- numerics and system -------------------------------------------------------------------------------
    precision: str = "fp32"  # fp32 | bf16 (autocast; weights and optimizer stay fp32)
    grad_checkpointing: bool = False
    text_cache: bool = True
    text_cache_size: int = 200_000
    text_chunk: int = 64
    device: str = "auto"
    threads: int | None = None  # torch CPU threads (None: torch's default)
    seed: int = 0
    # -- run -----------------------------------------------------------------------------------------------
    save_every: int = 50
    keep_checkpoints: int = 3
    log_every: int = 1
    eval_every: int = 0  # 0: only at the end
    tensorboard: bool = False
    progress: bool | None = None  # None: when stderr is a terminal

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        checks = [
            (is_modality(self.modality), f"modality must be one of {', '.join(modality_names())} (got "
                                         f"{self.modality!r})"),
            (self.tuning in TUNING_MODES, f"tuning must be one of {TUNING_MODES}"),
            (self.precision in TRAIN_PRECISIONS, f"precision must be one of {TRAIN_PRECISIONS}"),
            (self.batch_size >= 1 and self.accum_steps >= 1 and self.max_steps >= 1,
             "batch_size, accum_steps and max_steps must be >= 1"),
            (self.lr > 0 and self.coef_lr >= 0 and self.weight_decay >= 0, "lr > 0, coef_lr >= 0, weight_decay >= 0"),
            (0 <= self.patch_dropout < 1 and 0 <= self.lora_dropout < 1, "dropouts must be in [0, 1)"),
            (self.lora_r >= 1 and self.partial_layers >= 1, "lora_r and partial_layers must be >= 1"),
            (self.warmup_steps >= 0 and 0 <= self.min_lr_ratio <= 1, "warmup_steps >= 0, 0 <= min_lr_ratio <= 1"),
            (self.save_every >= 1 and self.keep_checkpoints >= 1 and self.log_every >= 1,
             "save_every, keep_checkpoints and log_every must be >= 1"),
            (self.workers >= 0 and self.text_chunk >= 1 and self.val_samples >= 0, "workers, text_chunk, val_samples"),
            (self.contrast_weight >= 0 and self.contrast_temperature > 0, "contrast_weight >= 0, temperature > 0"),
            (self.max_logit_scale > 0 and len(self.betas) == 2 and len(self.crop_scale) == 2, "betas / crop_scale"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"train config: {message}")
        if self.train_data is None:
            raise ConfigError("train config: train_data is required (manifest .jsonl, annotation .json or shards)")

    # -- reading and writing -------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str | Path | None = None) -> TrainConfig:
        """Unknown keys are a `ConfigError` naming them (and ``source``, the file they came from)."""
        return to_dataclass(cls, dict(data), "train config", source)

    @classmethod
    def load(cls, path: str | Path | None = None, overrides: Sequence[str] = ()) -> TrainConfig:
        """A config file (YAML/JSON/TOML; relative paths are relative to the working directory) or the name of
        a shipped one (``tiny``, ``depth_lora``, ...: ``languagebind/configs/train/``), plus overrides."""
        found = find_config(path, "train") if path is not None else None
        data: dict[str, Any] = read_config(found, "train config") if found is not None else {}
        return cls.from_dict(apply_overrides(data, overrides), found)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (an in-memory data source is written as its ``repr``)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)  # in-memory sources (Python API) are named, not serialised
