"""Encode arrays into file bytes: MP4 (PyAV), WAV (16-bit PCM), 16-bit PNG, JPEG (Pillow) and ``.npy``.

The one encoder set of the VIDAL builder (``languagebind.vidal``) and VIDAL-mini (``languagebind.data.synthetic``);
each caller passes its own settings (codec, quantiser or crf, PNG compression, JPEG quality). Every encoder is
deterministic for a given library version: fixed options, one encoder thread, no timestamps or host names
written, the row padding of every frame zeroed (x264 reads it), so two runs give byte-identical files.
"""

from __future__ import annotations

import contextlib
import io
import wave
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from PIL import Image

from languagebind.errors import ConfigError


@dataclass(frozen=True)
class VideoSettings:
    """How ``encode_mp4`` encodes: the codec, its private options, the thread count (None: left to ``options``),
    a bit rate (codecs without crf / qp) and the largest denominator of the frame rate's fraction."""

    codec: str = "libx264"
    options: Mapping[str, str] = field(default_factory=dict)
    thread_count: int | None = 1
    bit_rate: int | None = None
    rate_denominator: int = 1001


def x264_constant_qp(qp: int = 18) -> VideoSettings:
    """The builder's H.264: constant QP, no macroblock-tree or adaptive quantisation (their floating-point rate
    control came out differently after torch had run in the same process), no B-frames, one thread."""
    return VideoSettings(options={"qp": str(qp), "preset": "medium", "x264-params": "mbtree=0:aq-mode=0:bframes=0"})


def check_codec(codec: str) -> None:
    """Raise ``ConfigError`` when this PyAV build cannot encode ``codec``."""
    try:
        av.codec.Codec(codec, "w")
    except (av.error.FFmpegError, ValueError) as err:
        raise ConfigError(f"video codec {codec!r} is not available in this PyAV build ({err}); try 'mpeg4'") from err


def encode_mp4(frames: Iterable[np.ndarray], fps: float | Fraction, settings: VideoSettings) -> bytes:
    """Equally sized ``(H, W, 3)`` uint8 RGB frames -> MP4 bytes (yuv420p; H and W must be even for H.264)."""
    frames = list(frames)
    height, width = frames[0].shape[:2]
    with mp4_writer(width, height, fps, settings) as add:
        for frame in frames:
            add(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame, dtype=np.uint8), format="rgb24"))
    return add.data  # type: ignore[attr-defined]


class _Mp4Add:
    """The callable ``mp4_writer`` yields: ``add(frame)`` encodes one frame; ``data`` holds the file after."""

    def __init__(self, container: av.container.OutputContainer, stream: av.VideoStream) -> None:
        self.container, self.stream, self.count, self.data = container, stream, 0, b""
        self.reformatter = VideoReformatter()  # one swscale context for every frame (a new one per frame is slow)

    def __call__(self, frame: av.VideoFrame) -> None:
        frame = frame if frame.format.name == "yuv420p" else self.reformatter.reformat(frame, format="yuv420p")
        self.container.mux(self.stream.encode(_encoder_frame(frame, self.count, self.stream)))
        self.count += 1


@contextlib.contextmanager
def mp4_writer(width: int, height: int, fps: float | Fraction,
               settings: VideoSettings) -> Iterator[Callable[[av.VideoFrame], None]]:
    """An MP4 being encoded: call the yielded ``add(frame)`` per ``av.VideoFrame`` (any format, converted to
    yuv420p); after the block, ``add.data`` is the file's bytes."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        rate = Fraction(fps).limit_denominator(settings.rate_denominator)
        stream = container.add_stream(settings.codec, rate=rate, options=dict(settings.options))
        stream.codec_context.time_base = 1 / rate
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if settings.thread_count is not None:
            stream.codec_context.thread_count = settings.thread_count
        if settings.bit_rate is not None:
            stream.bit_rate = settings.bit_rate
        add = _Mp4Add(container, stream)
        yield add
        container.mux(stream.encode())
    add.data = buffer.getvalue()


def _encoder_frame(frame: av.VideoFrame, index: int, stream: av.VideoStream) -> av.VideoFrame:
    """``frame`` numbered ``index``, with the padding bytes at the end of each row zeroed: x264 reads them, and
    left uninitialised they make the output differ from run to run."""
    for plane in frame.planes:
        rows = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)
        rows[:, plane.width:] = 0
    frame.pts, frame.time_base = index, stream.codec_context.time_base
    frame.pict_type = av.video.frame.PictureType.NONE  # no frame types carried over from a decoded source
    return frame


def encode_wav(track: np.ndarray, sample_rate: int, full_scale: float = 32767.0,
               rounding: Callable[[np.ndarray], np.ndarray] = np.rint) -> bytes:
    """Mono float track in [-1, 1] -> 16-bit PCM WAV bytes: ``rounding(x * full_scale)`` clipped to int16.

    VIDAL-mini uses the defaults; the builder passes ``full_scale=32768, rounding=np.floor``, which gives the
    samples libsndfile's ``PCM_16`` writer gave it for float32 tracks."""
    pcm = np.clip(rounding(track * full_scale), -32768, 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def encode_png16(depth_mm: np.ndarray, compress_level: int) -> bytes:
    """``(H, W)`` uint16 millimetres -> 16-bit greyscale PNG bytes at zlib level ``compress_level``."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(depth_mm, dtype=np.uint16)).save(buffer, format="PNG",
                                                                         compress_level=compress_level)
    return buffer.getvalue()


def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    """``(H, W, 3)`` uint8 RGB -> baseline JPEG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def encode_npy(array: np.ndarray) -> bytes:
    """``.npy`` bytes (no pickle)."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()
