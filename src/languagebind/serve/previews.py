"""Previews of indexed items, looked up by id (the path comes from the index's own metadata, never the client).

The kind is the modality spec's ``preview`` (``languagebind.registry.PREVIEWS``): ``thumbnail`` (JPEG),
``channel`` / ``heatmap`` (8-bit grey PNG that the page false-colours; a heatmap's values are read as a depth map's,
near = bright), ``spectrogram`` (the first seconds of the sound as 16-bit WAV), ``frames`` (a poster: the middle of
three sampled frames), ``points`` (at most 2048 points of the cloud as JSON), ``waveform`` (channels over time, at
most 512 samples each as JSON). A spec whose preview is its own function gets that function's picture of the
preprocessed item as PNG (``render``); a name outside the registry gets none.
"""

from __future__ import annotations

import io
import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from threading import Lock

import numpy as np
from PIL import Image

from languagebind.errors import InputError
from languagebind.processing.audio import read_audio
from languagebind.processing.depth import read_depth_metres
from languagebind.processing.encode import encode_wav
from languagebind.processing.image import ImageLimits, open_image, to_rgb
from languagebind.processing.pointcloud import PointCloudConfig
from languagebind.processing.pointfiles import read_cloud
from languagebind.processing.video import read_video_frames
from languagebind.registry import get_modality, is_modality

MAX_POINTS = 2048
MAX_SAMPLES = 512


def modality_kind(modality: str) -> str:
    """How the page shows items of ``modality``: its spec's preview kind, ``"picture"`` for a spec's own function,
    ``"text"`` for captions, ``"none"`` for a name outside the registry."""
    if modality == "text":
        return "text"
    if not is_modality(modality):
        return "none"
    return get_modality(modality).preview_kind or "picture"


@dataclass(frozen=True)
class Preview:
    body: bytes
    media_type: str


class PreviewMaker:
    """Render and cache (LRU, bounded by count) previews of files named by the index."""

    def __init__(self, size: int, seconds: float, max_pixels: int, max_media_seconds: float,
                 render: Callable[[str, Path], np.ndarray] | None = None, cache_items: int = 256) -> None:
        """``render(modality, path)``: the picture a spec's own preview function draws of the item (``picture``)."""
        self.size = size
        self.seconds = seconds
        self.limits = ImageLimits(max_pixels, 100.0)
        self.max_media_seconds = max_media_seconds
        self.render = render
        self._cache: OrderedDict[tuple[str, str], Preview] = OrderedDict()
        self._cache_items = cache_items
        self._lock = Lock()

    def get(self, key: str, modality: str, path: Path) -> Preview:
        """The preview of the item ``key`` stored at ``path``; ``InputError`` when it cannot be made."""
        kind = modality_kind(modality)
        with self._lock:
            if (key, kind) in self._cache:
                self._cache.move_to_end((key, kind))
                return self._cache[(key, kind)]
        preview = self._render(kind, modality, path)
        with self._lock:
            self._cache[(key, kind)] = preview
            while len(self._cache) > self._cache_items:
                self._cache.popitem(last=False)
        return preview

    def _render(self, kind: str, modality: str, path: Path) -> Preview:
        if kind == "picture" and self.render is not None:
            return Preview(_encode(self._thumb(Image.fromarray(self.render(modality, path))), "PNG"), "image/png")
        render = {"thumbnail": self._image, "channel": self._grey, "heatmap": self._depth,
                  "spectrogram": self._audio, "frames": self._video, "points": self._points,
                  "waveform": self._series}.get(kind)
        if render is None:
            raise InputError(path.name, f"no preview for {modality or 'these'} items")
        return render(path)

    def _thumb(self, image: Image.Image) -> Image.Image:
        image = image.copy()
        image.thumbnail((self.size, self.size), Image.Resampling.BILINEAR)
        return image

    def _image(self, path: Path) -> Preview:
        image = self._thumb(to_rgb(open_image(path, self.limits), path))
        return Preview(_encode(image, "JPEG"), "image/jpeg")

    def _grey(self, path: Path) -> Preview:
        image = self._thumb(to_rgb(open_image(path, self.limits, "a one-channel image"), path).convert("L"))
        return Preview(_encode(image, "PNG"), "image/png")

    def _depth(self, path: Path) -> Preview:
        metres = read_depth_metres(path, self.limits)
        valid = metres[np.isfinite(metres) & (metres > 0)]
        top = float(np.percentile(valid, 99)) if valid.size else 1.0
        near = np.clip(1.0 - metres / max(top, 1e-6), 0.0, 1.0)  # near = bright, as depth previews usually are
        near[~np.isfinite(metres) | (metres <= 0)] = 0.0
        image = self._thumb(Image.fromarray(np.round(near * 255).astype(np.uint8), mode="L"))
        return Preview(_encode(image, "PNG"), "image/png")

    def _audio(self, path: Path) -> Preview:
        waveform, rate = read_audio(path, self.max_media_seconds)
        track = waveform[:, : int(self.seconds * rate)].mean(0).numpy()
        return Preview(encode_wav(np.clip(track, -1.0, 1.0), rate), "audio/wav")

    def _video(self, path: Path) -> Preview:
        frames = read_video_frames(path, 3, self.limits, self.max_media_seconds)
        image = self._thumb(Image.fromarray(frames[len(frames) // 2]))
        return Preview(_encode(image, "JPEG"), "image/jpeg")

    def _points(self, path: Path) -> Preview:
        array = read_cloud(path, PointCloudConfig().limits).points
        rows = np.unique(np.linspace(0, len(array) - 1, min(MAX_POINTS, len(array))).astype(int))
        points = np.nan_to_num(np.asarray(array[rows, :3], dtype=np.float64))
        return _json({"kind": "points", "points": np.round(points, 4).tolist()})

    def _series(self, path: Path) -> Preview:
        array = _load_array(path)
        if array.ndim == 1:
            array = array[:, None]
        if array.ndim != 2:
            raise InputError(path.name, f"a series needs (T, C) values, got {array.shape}")
        if array.shape[0] < array.shape[1]:
            array = array.T  # (C, T) stored channel-first
        rows = np.unique(np.linspace(0, len(array) - 1, min(MAX_SAMPLES, len(array))).astype(int))
        values = np.nan_to_num(np.asarray(array[rows], dtype=np.float64)).T
        return _json({"kind": "waveform", "series": np.round(values, 4).tolist()})


def _load_array(path: Path) -> np.ndarray:
    if path.suffix.lower() != ".npy":
        raise InputError(path.name, "array previews read .npy files")
    return np.load(path, mmap_mode="r", allow_pickle=False)


def _encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **({"quality": 85} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def _json(obj: dict) -> Preview:
    return Preview(json.dumps(obj, separators=(",", ":")).encode(), "application/json")
