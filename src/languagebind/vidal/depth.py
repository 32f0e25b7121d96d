"""Depth per keyframe from a local ``transformers`` depth-estimation model, written as uint16 millimetres.

Metric models (GLPN — what the official data used —, ZoeDepth, Depth-Anything-V2-Metric, DepthPro) give
metres in ``predicted_depth``; that is resized to the keyframe, clipped to [0, ``max_depth``] m and stored in mm
(the official PNG convention). Relative models (DPT, Depth-Anything relative) give inverse relative depth: it is
min-max normalised per frame and mapped to ``max_depth * (1 - d)``, and the clip's meta says
``depth_kind: relative`` so training or filtering can tell.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from languagebind.processing.encode import encode_npy
from languagebind.processing.image import short_side_size
from languagebind.vidal import hf, media
from languagebind.vidal.media import resize
from languagebind.vidal.operators import Operator
from languagebind.vidal.sample import Sample

METRIC_MODEL_TYPES = ("glpn", "zoedepth", "depth_pro")


def is_metric(config: Any) -> bool:
    """Whether a depth model's ``predicted_depth`` is in metres (by model type and depth_estimation_type)."""
    model_type = getattr(config, "model_type", "")
    if model_type in METRIC_MODEL_TYPES:
        return True
    return getattr(config, "depth_estimation_type", "relative") == "metric"


@dataclass(kw_only=True)
class DepthEstimation(Operator):
    """Keyframes -> depth maps (list of (H, W) uint16 mm, the keyframes' size)."""

    kind = modality = "depth"
    inputs = ("keyframes",)
    outputs = (modality, "depth_kind")
    uses_model = True

    model: str = ""
    max_depth: float = 10.0
    metric: bool | None = None  # None: decided from the model config (see is_metric)
    precision: str = "fp32"
    input_short_side: int | None = None  # resize keyframes to this short side before the processor (None: as is)

    def setup(self) -> None:
        from transformers import AutoImageProcessor, AutoModelForDepthEstimation

        path = hf.local_dir(self.model, self.name)
        self._device = self.device()
        self._processor = hf.load_processor(AutoImageProcessor, path)
        self._model = hf.load_pretrained(AutoModelForDepthEstimation, path, self.precision, self._device)
        self._metric = is_metric(self._model.config) if self.metric is None else self.metric
        self._label = hf.model_label(path, self._model.config)

    def process(self, batch: list[Sample]) -> None:
        import torch

        frames, owners = hf.flatten_keyframes(batch)
        maps: list[np.ndarray] = [np.empty(0)] * len(frames)
        for group in hf.groups_by_shape(frames):
            height, width = frames[group[0]].shape[:2]
            images = [frames[i] for i in group]
            if self.input_short_side:
                new_height, new_width = short_side_size(height, width, self.input_short_side, even=True)
                images = [resize(image, (new_width, new_height)) for image in images]
            inputs = self._processor(images=images, return_tensors="pt")
            pixels = inputs["pixel_values"].to(self._device, self._model.dtype)
            with torch.inference_mode():
                predicted = self._model(pixel_values=pixels).predicted_depth.float()
            predicted = torch.nn.functional.interpolate(predicted[:, None], size=(height, width), mode="bicubic",
                                                        align_corners=False)[:, 0]
            metres = predicted if self._metric else _relative_to_depth(predicted, self.max_depth)
            millimetres = (metres.clamp(0, self.max_depth) * 1000).round().to(torch.int32).cpu().numpy()
            for row, index in enumerate(group):
                maps[index] = millimetres[row].astype(np.uint16)
        for position, sample in enumerate(batch):
            sample.fields[self.modality] = [maps[i] for i, owner in enumerate(owners) if owner[0] == position]
            sample.fields["depth_kind"] = "metric" if self._metric else "relative"
            sample.meta.update(depth_model=self._label, depth_kind=sample.fields["depth_kind"])

    @classmethod
    def members(cls, key: str, fields: dict[str, Any], jpeg_quality: int) -> list[tuple[str, bytes]]:
        maps = fields.get(cls.modality) or []
        return [(f"{key}.{cls.modality}.{k}.png", media.encode_png16(d)) for k, d in enumerate(maps)]

    @classmethod
    def official_members(cls, key: str, fields: dict[str, Any], jpeg_quality: int) -> list[tuple[str, bytes]]:
        return [(f"{key}.dep{k}.npy", encode_npy(d)) for k, d in enumerate(fields.get(cls.modality) or [])]


def _relative_to_depth(inverse: Any, max_depth: float) -> Any:
    """Per-frame min-max of an inverse relative depth map, flipped so near = 0 and far = ``max_depth``."""
    flat = inverse.flatten(1)
    low, high = flat.min(1).values[:, None, None], flat.max(1).values[:, None, None]
    return max_depth * (1 - (inverse - low) / (high - low).clamp_min(1e-6))
