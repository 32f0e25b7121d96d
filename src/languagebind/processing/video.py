"""Video: PyAV decode of ``num_frames`` frames at ``linspace(0, n - 1)`` -> /255 -> normalise -> bilinear short side
-> centre crop, (3, T, S, S).

Official (video/processing_video.py, decord backend): ``n = len(VideoReader)``, ``idx = np.linspace(0, n - 1,
num_frames, dtype=int)``, ``get_batch(idx)`` RGB uint8 -> (C, T, H, W) -> ``x / 255`` -> ``NormalizeVideo`` (before
resizing) -> ``ShortSideScale`` (``floor(long / short * S)``, bilinear, no antialias) -> ``CenterCropVideo`` ->
``RandomHorizontalFlipVideo(p=0.5)`` at inference, which we do not apply (docs/differences.md).
PyAV's ``to_ndarray(format="rgb24")`` equals decord's frames bit for bit on the samples, and ``n`` (video packets)
equals ``len(vr)``. Frames are decoded in order and only the wanted ones are converted to RGB.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np
import torch
import torch.nn.functional as F

from languagebind.errors import InputError
from languagebind.processing.image import ImageLimits, center_crop, normalize
from languagebind.processing.inputs import check_complete, decode_errors, existing_file

# FFmpeg demuxers of still images: a picture opened "as a video" has one frame; reject it as the wrong modality.
_IMAGE_DEMUXERS = ("image2", "_pipe")


def frame_indices(num_available: int, num_frames: int) -> np.ndarray:
    """``np.linspace(0, n - 1, num_frames, dtype=int)``; a clip shorter than ``num_frames`` repeats frames."""
    return np.linspace(0, num_available - 1, num_frames, dtype=int)


def read_video_frames(item: object, num_frames: int, limits: ImageLimits, max_seconds: float) -> np.ndarray:
    """A video file path or a (T, H, W, 3) uint8 array -> the sampled frames, (num_frames, H, W, 3) uint8 RGB."""
    if isinstance(item, (np.ndarray, torch.Tensor)):
        frames = item.detach().cpu().numpy() if isinstance(item, torch.Tensor) else item
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or frames.shape[0] == 0:
            raise InputError(item, f"in-memory video must be uint8 (T, H, W, 3) with T >= 1, got {frames.dtype} "
                                   f"{tuple(frames.shape)}")
        limits.check(item, frames.shape[2], frames.shape[1])
        return frames[frame_indices(frames.shape[0], num_frames)]
    if not isinstance(item, (str, Path)):
        raise InputError(item, f"expected a video file path or a uint8 (T, H, W, 3) array, got {type(item).__name__}")
    path = existing_file(item)
    with decode_errors(item, "a video"):
        count = _count_frames(item, path, limits, max_seconds)
        indices = frame_indices(count, num_frames)
        frames, decoded = _decode_at(path, indices)
        if len(frames) < len(np.unique(indices)):
            # The container announced more frames than it holds (e.g. a cut-off file): sample the real ones.
            if decoded == 0:
                raise InputError(item, "no video frame could be decoded")
            indices = frame_indices(decoded, num_frames)
            frames, _ = _decode_at(path, indices)
    return np.stack([frames[i] for i in indices])


def video_transform(frames: np.ndarray, size: int, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (3, T, size, size) float32: /255, normalise, bilinear short side, centre crop."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2) / 255.0
    x = normalize(x, mean, std)
    height, width = x.shape[-2:]
    if width < height:
        new_size = (math.floor(float(height) / width * size), size)
    else:
        new_size = (size, math.floor(float(width) / height * size))
    x = F.interpolate(x, size=new_size, mode="bilinear", align_corners=False, antialias=False)
    return center_crop(x, size).contiguous()


def load_video(item: object, num_frames: int, size: int, mean: Sequence[float], std: Sequence[float],
               limits: ImageLimits, max_seconds: float) -> torch.Tensor:
    """A video item -> (3, num_frames, size, size) float32, the official video preprocessing without the flip."""
    return video_transform(read_video_frames(item, num_frames, limits, max_seconds), size, mean, std)


def _open_video_stream(item: object, container: av.container.InputContainer) -> av.video.stream.VideoStream:
    name = container.format.name
    if name == "image2" or name.endswith("_pipe"):
        raise InputError(item, f"not a video: FFmpeg reads it as a still image ({name})")
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams})
        raise InputError(item, f"no video stream (streams: {', '.join(kinds) or 'none'}; container {name})")
    return container.streams.video[0]


def _count_frames(item: object, path: Path, limits: ImageLimits, max_seconds: float) -> int:
    """Frames in the first video stream = its non-empty packets (decord's ``len(vr)`` on the samples)."""
    with av.open(str(path)) as container:
        stream = _open_video_stream(item, container)
        limits.check(item, stream.codec_context.width, stream.codec_context.height)
        declared = _duration_seconds(container, stream)
        if declared is not None and declared > max_seconds:
            raise InputError(item, f"video too long: {declared:.0f} s (limit {max_seconds:g} s, "
                                   "ProcessorConfig.max_video_seconds)")
        count, end = 0, 0
        for packet in container.demux(stream):
            if packet.size:
                count += 1
                if packet.pts is not None:
                    end = max(end, packet.pts + (packet.duration or 0))
        start = stream.start_time or 0
    if count == 0:
        raise InputError(item, "the video stream has no frames")
    if stream.time_base is not None and stream.duration is not None:
        check_complete(item, float((end - start) * stream.time_base), float(stream.duration * stream.time_base))
    return count


def _decode_at(path: Path, indices: np.ndarray) -> tuple[dict[int, np.ndarray], int]:
    """Decode in order, converting only the frames at ``indices`` to RGB; returns them and the frames decoded."""
    wanted = set(indices.tolist())
    last = max(wanted)
    frames: dict[int, np.ndarray] = {}
    decoded = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for position, frame in enumerate(container.decode(stream)):
            decoded = position + 1
            if position in wanted:
                frames[position] = frame.to_ndarray(format="rgb24")
            if position >= last:
                break
    return frames, decoded


def _duration_seconds(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None
