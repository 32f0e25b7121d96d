"""Encode rendered arrays into file bytes: MP4 (PyAV), WAV (16-bit PCM), 16-bit PNG and JPEG (Pillow).

Every encoder is deterministic for a given environment (single-threaded x264 without macroblock-tree, no
timestamps in containers).
"""

from __future__ import annotations

import io
import wave
from fractions import Fraction

import av
import numpy as np
from PIL import Image

from languagebind.errors import ConfigError

# mbtree=0: with x264's macroblock-tree rate control the output varied from run to run (with the same frames)
# once other code had used the heap; without it, and single-threaded, the bytes are repeatable.
X264_OPTIONS = {"preset": "veryfast", "crf": "18", "threads": "1", "x264-params": "mbtree=0"}


def check_codec(codec: str) -> None:
    """Raise ``ConfigError`` when this PyAV build cannot encode ``codec``."""
    try:
        av.codec.Codec(codec, "w")
    except (av.error.FFmpegError, ValueError) as err:
        raise ConfigError(f"video codec {codec!r} is not available in this PyAV build ({err}); try 'mpeg4'") from err


def encode_mp4(frames: np.ndarray, fps: float, codec: str = "libx264") -> bytes:
    """``(F, H, W, 3)`` uint8 RGB frames -> MP4 bytes (yuv420p; H and W must be even)."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1000),
                                      options=X264_OPTIONS if codec == "libx264" else {"threads": "1"})
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        if codec != "libx264":
            stream.bit_rate = 2_000_000  # mpeg4 has no crf; plenty for small frames
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return buffer.getvalue()


def encode_wav(track: np.ndarray, sample_rate: int) -> bytes:
    """Mono float track in [-1, 1] -> 16-bit PCM WAV bytes."""
    pcm = np.clip(np.rint(track * 32767.0), -32768, 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def encode_png16(depth_mm: np.ndarray) -> bytes:
    """``(H, W)`` uint16 millimetres -> 16-bit greyscale PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(depth_mm, dtype=np.uint16)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    """``(H, W, 3)`` uint8 RGB -> JPEG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
