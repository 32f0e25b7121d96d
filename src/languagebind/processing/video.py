"""Video: PyAV decode of ``num_frames`` frames at ``linspace(0, n - 1)`` -> /255 -> normalise -> bilinear short side
-> centre crop, (3, T, S, S).

Official (video/processing_video.py, decord backend): ``n = len(VideoReader)``, ``idx = np.linspace(0, n - 1,
num_frames, dtype=int)``, ``get_batch(idx)`` RGB uint8 -> (C, T, H, W) -> ``x / 255`` -> ``NormalizeVideo`` (before
resizing) -> ``ShortSideScale`` (``floor(long / short * S)``, bilinear, no antialias) -> ``CenterCropVideo`` ->
``RandomHorizontalFlipVideo(p=0.5)`` at inference, which we do not apply (docs/differences.md).
PyAV's ``to_ndarray(format="rgb24")`` equals decord's frames bit for bit on the samples, and ``n`` (video packets)
equals ``len(vr)``. Only the wanted frames are converted to RGB, with one swscale thread: PyAV's default (a thread
pool per frame's new conversion context) costs ~5 ms a frame, one thread 0.07 ms, same pixels. A short clip
is decoded in order; in a long one (many keyframes between the wanted frames) the decoder seeks to the keyframe
before each wanted frame, which gives the same frames while decoding far fewer (``seek_plan``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import torch
import torch.nn.functional as F
from av.video.reformatter import VideoReformatter

from languagebind.errors import InputError
from languagebind.processing.image import ImageLimits, center_crop, normalize
from languagebind.processing.inputs import check_complete, decode_errors, existing_file

# FFmpeg demuxers of still images: a picture opened "as a video" has one frame; reject it as the wrong modality.
_IMAGE_DEMUXERS = ("image2", "_pipe")
# Seek when that decodes at most this share of the frames an in-order decode up to the last wanted frame would.
SEEK_MAX_SHARE = 0.5


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
        index = _index_stream(item, path, limits, max_seconds)
        indices = frame_indices(index.count, num_frames)
        frames, decoded = _decode_at(path, indices, index)
        if len(frames) < len(np.unique(indices)):
            # The container announced more frames than it holds (e.g. a cut-off file): sample the real ones.
            if decoded == 0:
                raise InputError(item, "no video frame could be decoded")
            indices = frame_indices(decoded, num_frames)
            frames, _ = _decode_at(path, indices, None)
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


@dataclass(frozen=True)
class StreamIndex:
    """What demuxing the first video stream tells (no decoding): its frame count (non-empty packets, decord's
    ``len(vr)`` on the samples), their presentation timestamps in order, and those of its keyframes (None when a
    packet had no timestamp: then frames are only decoded in order)."""

    count: int
    pts: tuple[int, ...] | None
    keyframes: tuple[int, ...] | None


def _index_stream(item: object, path: Path, limits: ImageLimits, max_seconds: float) -> StreamIndex:
    with av.open(str(path)) as container:
        stream = _open_video_stream(item, container)
        limits.check(item, stream.codec_context.width, stream.codec_context.height)
        declared = _duration_seconds(container, stream)
        if declared is not None and declared > max_seconds:
            raise InputError(item, f"video too long: {declared:.0f} s (limit {max_seconds:g} s, "
                                   "ProcessorConfig.max_video_seconds)")
        count, end, timed = 0, 0, True
        pts: list[int] = []
        keyframes: list[int] = []
        for packet in container.demux(stream):
            if packet.size:
                count += 1
                if packet.pts is None:
                    timed = False
                    continue
                end = max(end, packet.pts + (packet.duration or 0))
                pts.append(packet.pts)
                if packet.is_keyframe:
                    keyframes.append(packet.pts)
        start = stream.start_time or 0
    if count == 0:
        raise InputError(item, "the video stream has no frames")
    if stream.time_base is not None and stream.duration is not None:
        check_complete(item, float((end - start) * stream.time_base), float(stream.duration * stream.time_base))
    timed = timed and len(set(pts)) == len(pts) and bool(keyframes)
    return StreamIndex(count, tuple(sorted(pts)) if timed else None, tuple(sorted(keyframes)) if timed else None)


def seek_plan(index: StreamIndex, wanted: Sequence[int]) -> dict[int, list[int]] | None:
    """``{keyframe pts: [wanted frame positions decoded from it]}`` when seeking to keyframes decodes at most
    ``SEEK_MAX_SHARE`` of the frames an in-order decode would; else None (decode in order)."""
    if index.pts is None or not index.keyframes:
        return None
    keyframes = np.asarray(index.keyframes)
    groups: dict[int, list[int]] = {}
    for position in sorted(set(wanted)):
        slot = int(np.searchsorted(keyframes, index.pts[position], side="right")) - 1
        if slot < 0:
            return None
        groups.setdefault(int(keyframes[slot]), []).append(position)
    positions = {p: i for i, p in enumerate(index.pts)}
    cost = sum(max(group) - positions[key] + 1 for key, group in groups.items())
    return groups if cost <= SEEK_MAX_SHARE * (max(wanted) + 1) else None


def _decode_at(path: Path, indices: np.ndarray, index: StreamIndex | None) -> tuple[dict[int, np.ndarray], int]:
    """The frames at ``indices`` as RGB arrays and the number of frames decoded: by seeking to the keyframe
    before each wanted frame when that decodes far fewer frames (long clips), else in order, converting only
    the wanted frames. Both give the same frames."""
    plan = seek_plan(index, indices.tolist()) if index is not None else None
    if plan is not None:
        found = _decode_seeking(path, plan, index.pts)  # type: ignore[union-attr]
        if found is not None:
            return found
    return _decode_in_order(path, indices)


def _decode_seeking(path: Path, plan: dict[int, list[int]], pts: tuple[int, ...]
                    ) -> tuple[dict[int, np.ndarray], int] | None:
    """Seek to each keyframe of ``plan`` and decode up to its last wanted frame; None if a frame is not found
    where the index put it (the caller then decodes in order)."""
    frames: dict[int, np.ndarray] = {}
    to_rgb = RgbConverter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        set_decoder_threads(stream)
        for keyframe, positions in plan.items():
            targets = {pts[p]: p for p in positions}
            last = max(targets)
            container.seek(keyframe, stream=stream, backward=True, any_frame=False)
            for frame in container.decode(stream):
                if frame.pts is None:
                    return None
                if frame.pts in targets:
                    frames[targets[frame.pts]] = to_rgb(frame)
                if frame.pts >= last:
                    break
            if any(p not in frames for p in positions):
                return None
    return frames, max(frames) + 1


class RgbConverter:
    """Decoded frames -> (H, W, 3) uint8 RGB, as ``frame.to_ndarray(format="rgb24")`` gives them (same bytes), through
    one swscale context for all frames of a file: ``to_ndarray`` sets up a new one per frame (64x64 frames:
    ~1-5 ms each against ~0.1 ms reused)."""

    def __init__(self) -> None:
        self.reformatter = VideoReformatter()

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        return self.reformatter.reformat(frame, format="rgb24", threads=1).to_ndarray()


SMALL_FRAME_PIXELS = 256 * 256  # below this, starting decoder threads costs more than decoding (tiny clips)


def set_decoder_threads(stream: Any) -> None:
    """Frame/slice threads for real videos; one thread for tiny clips, whose decode is shorter than the
    start-up of a thread pool (64x64, 16 frames: 1.1 ms single-threaded, 7.8 ms with AUTO; same frames)."""
    if stream.codec_context.width * stream.codec_context.height <= SMALL_FRAME_PIXELS:
        stream.codec_context.thread_count = 1
    else:
        stream.thread_type = "AUTO"


def _decode_in_order(path: Path, indices: np.ndarray) -> tuple[dict[int, np.ndarray], int]:
    """Decode in order, converting only the frames at ``indices`` to RGB; returns them and the frames decoded."""
    frames, decoded, error = decode_in_order(path, indices)
    if error is not None:
        raise error
    return frames, decoded


def decode_in_order(path: str | Path, indices: Sequence[int] | np.ndarray
                    ) -> tuple[dict[int, np.ndarray], int, av.FFmpegError | None]:
    """Decode ``path`` in order up to the last of ``indices``, converting only the frames at ``indices`` to RGB
    uint8: those frames, how many frames were decoded, and the codec's error if decoding failed part way (the
    frames before it are kept; the VIDAL builder reports where a clip broke)."""
    wanted = {int(i) for i in indices}
    last = max(wanted)
    frames: dict[int, np.ndarray] = {}
    decoded = 0
    to_rgb = RgbConverter()
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            set_decoder_threads(stream)
            for position, frame in enumerate(container.decode(stream)):
                decoded = position + 1
                if position in wanted:
                    frames[position] = to_rgb(frame)
                if position >= last:
                    break
    except av.FFmpegError as err:
        return frames, decoded, err
    return frames, decoded, None


def _duration_seconds(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None
