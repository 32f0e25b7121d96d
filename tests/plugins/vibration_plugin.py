"""A modality plug-in: a single-channel vibration signal (a 1-D float array saved as ``.npy``).

Register it by importing this module, by ``languagebind --plugin vibration_plugin``, or with an entry point:
``[project.entry-points."languagebind.modalities"] vibration = "vibration_plugin"``.
"""

from pathlib import Path

import numpy as np
import torch
from torch import nn

from languagebind.errors import ConfigError, InputError
from languagebind.model.config import VisionConfig
from languagebind.processing import ProcessorConfig
from languagebind.registry import ModalitySpec, register_modality


def load(item: object, cfg: ProcessorConfig) -> torch.Tensor:
    """A path or an array -> (1, length) float32: centre crop or zero pad, then zero mean and unit variance."""
    length = cfg.options["length"]
    try:
        signal = item if isinstance(item, np.ndarray) else np.load(Path(str(item)), allow_pickle=False)
    except (OSError, ValueError) as err:
        raise InputError(item, f"cannot read as a .npy signal ({err})") from err
    signal = np.asarray(signal, dtype=np.float32)
    if signal.ndim != 1 or signal.size < 2:
        raise InputError(item, f"expected a 1-D signal of at least 2 samples, got shape {signal.shape}")
    if not np.isfinite(signal).all():
        raise InputError(item, "the signal has NaN or infinite values")
    start = max(0, (signal.size - length) // 2)
    window = np.zeros(length, dtype=np.float32)
    window[:min(length, signal.size)] = signal[start:start + length]
    window = (window - window.mean()) / (window.std() + 1e-6)
    return torch.from_numpy(window)[None]


class SignalPatches(nn.Module):
    """Non-overlapping 1-D patches -> tokens, with a CLS token and learned positions (the shared core follows)."""

    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        length, patch, width = cfg.options["length"], cfg.patch_size, cfg.transformer.width
        if length % patch:
            raise ConfigError(f"signal length {length} is not a multiple of the patch {patch}")
        self.proj = nn.Conv1d(1, width, patch, patch, bias=False)
        self.class_embedding = nn.Parameter(torch.zeros(width))
        self.position_embedding = nn.Parameter(torch.zeros(length // patch + 1, width))

    def forward(self, signals: torch.Tensor) -> tuple[torch.Tensor, int]:  # (B, 1, length) -> (B, 1 + length/patch, D)
        tokens = self.proj(signals).transpose(1, 2)
        cls = self.class_embedding.to(tokens.dtype).expand(len(tokens), 1, -1)
        return torch.cat([cls, tokens], dim=1) + self.position_embedding.to(tokens.dtype), 1

    @staticmethod
    def input_shape(cfg: VisionConfig) -> tuple[int, int]:
        return (1, cfg.options["length"])


SPEC = register_modality(ModalitySpec(
    name="vibration",
    extensions=(".npy",),
    loader=load,
    item_shape=lambda cfg: (1, cfg.options["length"]),
    tokens=SignalPatches,
    token_geometry="1-D patches of 16 samples",
    start="scratch",
    templates=("a vibration signal of {}.", "a machine making {}."),
    letter="vib",
    preview="waveform",
    tiny={"patch_size": 16, "options": {"length": 256}},
    released={"patch_size": 16, "options": {"length": 1024}},
))
