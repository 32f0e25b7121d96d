"""PyAV and Pillow helpers: probe a container, decode chosen frames, extract audio, encode shard members.

The encoders are ``languagebind.processing.encode``'s (shared with VIDAL-mini) with the builder's settings:
H.264 at a constant quantiser, 16-bit PNG at zlib level 6, WAV at full scale 32768 (floor). They are
deterministic for a given library version, so two builds give byte-identical shards.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from PIL import Image

from languagebind.processing import encode
from languagebind.processing.image import short_side_size
from languagebind.processing.video import decode_in_order
from languagebind.vidal.sample import Rejected

POSITIONS = ("linspace", "official")


@dataclass(frozen=True)
class VideoInfo:
    """What the probe learns about a video; ``frames`` counts the video packets (as decord's ``len``)."""

    width: int
    height: int
    duration: float
    frames: int
    fps: float
    codec: str
    has_audio: bool

    def as_meta(self) -> dict[str, object]:
        return {"width": self.width, "height": self.height, "duration": round(self.duration, 3),
                "frames": self.frames, "fps": round(self.fps, 3), "codec": self.codec, "has_audio": self.has_audio}


def probe(path: str, max_duration: float | None = None) -> VideoInfo:
    """Open ``path`` and count its video packets without decoding; `Rejected` when it is not a usable video."""
    if not os.path.isfile(path):
        raise Rejected(path, "missing_file", "the file does not exist")
    if os.path.getsize(path) == 0:
        raise Rejected(path, "empty_file", "the file is empty")
    try:
        container = av.open(path)
    except (av.FFmpegError, OSError, UnicodeDecodeError) as err:
        raise Rejected(path, "undecodable", f"cannot open the container ({err})") from err
    with container:
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams}) or ["no"]
            raise Rejected(path, "no_video_stream", f"only {'/'.join(kinds)} streams")
        stream = container.streams.video[0]
        declared = float(container.duration / av.time_base) if container.duration else 0.0
        if max_duration is not None and declared > max_duration:
            raise Rejected(path, "too_long", f"{declared:.1f} s > {max_duration:g} s")
        frames, end = 0, 0.0
        try:
            for packet in container.demux(stream):
                if packet.size:
                    frames += 1
                    if packet.pts is not None and packet.time_base is not None:
                        end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
        except av.FFmpegError as err:
            raise Rejected(path, "undecodable", f"demuxing stopped after {frames} frames ({err})") from err
        if stream.frames and frames < stream.frames:
            raise Rejected(path, "truncated", f"{frames} of {stream.frames} frames present")
        if frames == 0:
            raise Rejected(path, "no_frames", "the video stream has no frames")
        duration = declared or end
        if max_duration is not None and duration > max_duration:
            raise Rejected(path, "too_long", f"{duration:.1f} s > {max_duration:g} s")
        rate = stream.average_rate or stream.guessed_rate
        return VideoInfo(width=stream.codec_context.width, height=stream.codec_context.height, duration=duration,
                         frames=frames, fps=float(rate) if rate else frames / max(duration, 1e-6),
                         codec=stream.codec_context.name, has_audio=bool(container.streams.audio))


def keyframe_indices(frames: int, count: int, positions: str = "linspace") -> list[int]:
    """Frame indices of the ``count`` keyframes of a ``frames``-frame video.

    ``linspace``: ``linspace(0, frames-1, count)`` truncated, what the trainer decodes (decord backend and
    ``processing/video.py``), so keyframe k is the k-th frame the video tower sees. ``official``: the dataset
    scripts' ``i * (frames // count)``, which never reaches the last ``frames / count`` frames.
    """
    if positions == "linspace":
        return [int(x) for x in np.linspace(0, frames - 1, count)]
    if positions == "official":
        return [i * (frames // count) for i in range(count)]
    raise ValueError(f"positions must be one of {POSITIONS}, got {positions!r}")


def decode_frames(path: str, indices: list[int]) -> tuple[dict[int, np.ndarray], int]:
    """RGB uint8 frames at ``indices`` (decoding stops after the last one) and how many frames were decoded."""
    found, decoded, error = decode_in_order(path, indices)
    if error is not None:
        raise Rejected(path, "undecodable", f"decoding failed after {decoded} frames ({error})") from error
    return found, decoded


def resize(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bicubic resize (antialiased when shrinking) of an RGB uint8 frame to ``size`` = (width, height)."""
    if (frame.shape[1], frame.shape[0]) == size:
        return frame
    return np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.BICUBIC))


def decode_audio(path: str, sample_rate: int) -> np.ndarray | None:
    """The first audio track as mono float32 at ``sample_rate``; None when there is no audio track."""
    with av.open(path) as container:
        if not container.streams.audio:
            return None
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks = []
        for frame in container.decode(container.streams.audio[0]):
            frame.pts = None  # resample by sample count; broken timestamps must not add silence
            chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]
        chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


def encode_mp4(frames: list[np.ndarray], fps: float = 1.0, qp: int = 18) -> bytes:
    """H.264 (yuv420p, constant QP, one thread, no B-frames) MP4 of equally sized RGB frames."""
    return encode.encode_mp4(frames, fps, encode.x264_constant_qp(qp))


def transcode_short_side(path: str, short_side: int, qp: int = 18) -> bytes:
    """Every frame of ``path`` re-encoded at short side ``short_side`` (constant rate, no audio): H.264 MP4."""
    with av.open(path) as source:
        video = source.streams.video[0]
        height, width = short_side_size(video.codec_context.height, video.codec_context.width, short_side,
                                        even=True)
        rate = video.average_rate or video.guessed_rate or Fraction(25)
        scaler = VideoReformatter()  # one swscale context for every frame
        with encode.mp4_writer(width, height, rate, encode.x264_constant_qp(qp)) as add:
            for frame in source.decode(video):
                add(scaler.reformat(frame, width=width, height=height, format="yuv420p", interpolation="BICUBIC"))
    return add.data  # type: ignore[attr-defined]


def encode_wav(audio: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM mono WAV (full scale 32768, rounded down, clipped: libsndfile's ``PCM_16`` conversion)."""
    return encode.encode_wav(audio, sample_rate, full_scale=32768.0, rounding=np.floor)


def encode_png16(depth_mm: np.ndarray) -> bytes:
    """16-bit grayscale PNG of a uint16 depth map (millimetres), zlib level 6."""
    return encode.encode_png16(depth_mm, compress_level=6)

