"""Infrared per keyframe from an RGB->thermal image translator loaded from a local checkpoint.

Any generator fits behind `ThermalGenerator` (``translate(images, styles)``, ``style_dim``, ``size_multiple``).
The one shipped is MUNIT as used by sRGB-TIR (the official VIDAL infrared): a model directory holds the
training config (``*.yaml`` with a ``gen:`` section) and the generator weights (``*.pt`` with ``{'a', 'b'}``,
e.g. sRGB-TIR's ``translation_weights.pt``); ``direction: b2a`` encodes RGB with ``gen_b`` and decodes thermal
with ``gen_a`` (sRGB-TIR's ``tir2rgb`` config, ``a2b=0``).

Unlike the official script (train mode, a fresh random style per *frame*), the generator runs in eval mode and
every frame of a video gets the same style code, drawn from a generator seeded by (seed, video id) — or the
prior's mean with ``style: zero`` — so a rebuild gives the same infrared frames.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from languagebind.errors import ConfigError
from languagebind.processing.encode import encode_jpeg
from languagebind.vidal import hf
from languagebind.vidal.operators import Operator
from languagebind.vidal.sample import Sample

STYLES = ("per_video", "zero")


class ThermalGenerator(Protocol):
    """An RGB -> thermal translator: images in [-1, 1] (B, 3, H, W) and style codes (B, style_dim)."""

    style_dim: int
    size_multiple: int  # H and W of the input must be multiples of this

    def translate(self, images: Any, styles: Any) -> Any:
        """Thermal images in [-1, 1], same size as ``images``."""


class MunitThermal:
    """MUNIT / sRGB-TIR: content of the RGB image (one generator) decoded with a thermal style (the other)."""

    def __init__(self, directory: Path, direction: str = "b2a") -> None:
        import torch
        import yaml

        from languagebind.vidal.munit import load_generators

        config_path, weights_path = _single(directory, "*.yaml", "*.yml"), _single(directory, "*.pt", "*.pth")
        config = yaml.safe_load(config_path.read_text())
        if not isinstance(config, dict) or "gen" not in config:
            raise ConfigError(f"{config_path}: a MUNIT config needs a 'gen:' section")
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
        if not (isinstance(state, dict) and {"a", "b"} <= state.keys()):
            raise ConfigError(f"{weights_path}: expected MUNIT generator weights {{'a': ..., 'b': ...}}")
        dims = (int(config.get("input_dim_a", 3)), int(config.get("input_dim_b", 3)))
        gen_a, gen_b = load_generators(state, config["gen"], dims)
        if direction not in ("a2b", "b2a"):
            raise ConfigError(f"direction must be 'a2b' or 'b2a', got {direction!r}")
        self.encoder, self.decoder = (gen_a, gen_b) if direction == "a2b" else (gen_b, gen_a)
        self.style_dim = int(config["gen"]["style_dim"])
        self.size_multiple = 2 ** int(config["gen"]["n_downsample"])

    def to(self, device: Any) -> MunitThermal:
        self.encoder.to(device)
        self.decoder.to(device)
        return self

    def translate(self, images: Any, styles: Any) -> Any:
        return self.decoder.decode(self.encoder.encode_content(images), styles)


GENERATORS = {"munit": MunitThermal}


@dataclass(kw_only=True)
class ThermalTranslation(Operator):
    """Keyframes -> infrared frames (list of (H, W, 3) uint8, the keyframes' size)."""

    kind = modality = "thermal"
    inputs = ("keyframes",)
    outputs = (modality,)
    uses_model = True

    model: str = ""
    generator: str = "munit"
    direction: str = "b2a"
    input_short_side: int = 400  # the generator sees frames with this short side (sRGB-TIR trained on 400x640)
    style: str = "per_video"
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.style not in STYLES:
            raise ConfigError(f"stage {self.name}: style must be one of {STYLES}")
        if self.generator not in GENERATORS:
            raise ConfigError(f"stage {self.name}: generator must be one of {', '.join(GENERATORS)}")

    def setup(self) -> None:
        path = hf.local_dir(self.model, self.name, marker="")
        self._device = self.device()
        self._generator: ThermalGenerator = GENERATORS[self.generator](path, self.direction).to(self._device)
        self._label = f"{path.name} ({self.generator})"

    def style_code(self, video_id: str) -> Any:
        """The style every frame of ``video_id`` is decoded with."""
        import torch

        if self.style == "zero":
            return torch.zeros(self._generator.style_dim)
        seed = int.from_bytes(hashlib.sha256(f"{self.seed}:{video_id}".encode()).digest()[:8], "little")
        return torch.randn(self._generator.style_dim, generator=torch.Generator().manual_seed(seed))

    def process(self, batch: list[Sample]) -> None:
        import torch
        import torch.nn.functional as F

        frames, owners = hf.flatten_keyframes(batch)
        styles = torch.stack([self.style_code(batch[position].id) for position, _ in owners])
        results: list[np.ndarray] = [np.empty(0)] * len(frames)
        for group in hf.groups_by_shape(frames):
            height, width = frames[group[0]].shape[:2]
            images = torch.from_numpy(np.stack([frames[i] for i in group])).permute(0, 3, 1, 2).float() / 255.0
            images = F.interpolate(images * 2 - 1, size=self._input_size(height, width), mode="bilinear",
                                   align_corners=False, antialias=True).to(self._device)
            with torch.inference_mode():
                thermal = self._generator.translate(images, styles[group].to(self._device)).float().cpu()
            thermal = F.interpolate((thermal + 1) / 2, size=(height, width), mode="bicubic", align_corners=False)
            pixels = (thermal.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
            for row, index in enumerate(group):
                results[index] = pixels[row]
        for position, sample in enumerate(batch):
            sample.fields[self.modality] = [results[i] for i, owner in enumerate(owners) if owner[0] == position]
            sample.meta["thermal_model"] = self._label

    @classmethod
    def members(cls, key: str, fields: dict[str, Any], jpeg_quality: int) -> list[tuple[str, bytes]]:
        return [(f"{key}.{cls.modality}.{k}.jpg", encode_jpeg(t, jpeg_quality))
                for k, t in enumerate(fields.get(cls.modality) or [])]

    @classmethod
    def official_members(cls, key: str, fields: dict[str, Any], jpeg_quality: int) -> list[tuple[str, bytes]]:
        frames = fields.get(cls.modality) or []
        return [(f"{key}.tml{k}.jpg", encode_jpeg(t, jpeg_quality)) for k, t in enumerate(frames)]

    def _input_size(self, height: int, width: int) -> tuple[int, int]:
        multiple = self._generator.size_multiple
        scale = self.input_short_side / min(height, width)
        return (max(multiple, round(height * scale / multiple) * multiple),
                max(multiple, round(width * scale / multiple) * multiple))


def _single(directory: Path, *patterns: str) -> Path:
    found = sorted({p for pattern in patterns for p in directory.glob(pattern)})
    if len(found) != 1:
        raise ConfigError(f"{directory}: expected exactly one {' or '.join(patterns)} file, found {len(found)}")
    return found[0]
