"""Tiny test videos written with PyAV: good clips with sidecar metadata, and the broken kinds a crawl yields."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

WORDS = ("dog", "cat", "surfer", "wave", "kitchen", "guitar", "street", "forest", "robot", "bicycle", "snow", "lake")


def write_video(path: Path, *, frames: int = 10, fps: int = 10, size: tuple[int, int] = (64, 48),
                audio: bool = True, seed: int = 0, video: bool = True) -> Path:
    """An H.264 MP4 of moving colour gradients (``size`` = width, height), with a sine tone when ``audio``."""
    rng = np.random.default_rng(seed)
    width, height = size
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4") as container:
        vstream = container.add_stream("libx264", rate=fps) if video else None
        if vstream is not None:
            vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
            vstream.codec_context.thread_count = 1
        astream = container.add_stream("aac", rate=16000, layout="mono") if audio else None
        if vstream is not None:
            base = rng.integers(0, 255, size=3)
            yy, xx = np.mgrid[0:height, 0:width]
            for index in range(frames):
                image = np.stack([(xx * 4 + index * 9 + base[0]) % 256, (yy * 4 + base[1]) % 256,
                                  np.full_like(xx, (index * 20 + base[2]) % 256)], axis=-1).astype(np.uint8)
                for packet in vstream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                    container.mux(packet)
            for packet in vstream.encode():
                container.mux(packet)
        if astream is not None:
            seconds = frames / fps
            tone = 0.3 * np.sin(2 * np.pi * (220 + 40 * seed % 400) * np.arange(int(16000 * seconds)) / 16000)
            chunk = 1024
            for start in range(0, len(tone), chunk):
                samples = tone[start:start + chunk].astype(np.float32)[None, :]
                frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = 16000, start, Fraction(1, 16000)
                for packet in astream.encode(frame):
                    container.mux(packet)
            for packet in astream.encode():
                container.mux(packet)
    return path


def write_truncated_faststart(path: Path, seed: int = 3) -> Path:
    """An MP4 whose index sits in front (``movflags=faststart``), cut in half: it opens, but frames are missing."""
    source = write_video(path.with_name(path.stem + "_src.tmp"), frames=30, seed=seed)
    with av.open(str(source)) as src, av.open(str(path), "w", format="mp4", options={"movflags": "faststart"}) as dst:
        streams = {s.index: dst.add_stream_from_template(s) for s in src.streams}
        for packet in src.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                dst.mux(packet)
    source.unlink()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def write_sidecar(video: Path, title: str, hashtags: list[str] | None = None, **extra: object) -> Path:
    """``<stem>.json`` next to ``video`` with the title and hashtags the builder reads."""
    sidecar = video.with_suffix(".json")
    sidecar.write_text(json.dumps({"title": title, "hashtags": hashtags or [], **extra}))
    return sidecar


def make_corpus(root: Path, count: int, *, broken: bool = True) -> dict[str, str]:
    """``count`` good clips (+ the broken kinds); returns id -> expected status ("ok" or a filter reason)."""
    expected: dict[str, str] = {}
    for index in range(count):
        name = f"clip{index:04d}"
        words = [WORDS[(index + k) % len(WORDS)] for k in range(3)]
        video = write_video(root / f"{name}.mp4", frames=6 + index % 7, seed=index, audio=index % 3 != 0,
                            size=(64, 48) if index % 2 else (48, 64))
        write_sidecar(video, f"A {words[0]} and a {words[1]} #shorts", [words[2], "viral"])
        expected[name] = "ok"
    if broken:
        (root / "empty.mp4").write_bytes(b"")
        write_sidecar(root / "empty.mp4", "an empty file here", ["test"])
        expected["empty"] = "empty_file"
        whole = write_video(root / "truncated.mp4", frames=30, seed=99).read_bytes()
        (root / "truncated.mp4").write_bytes(whole[: len(whole) // 2])
        write_sidecar(root / "truncated.mp4", "a truncated file here", ["test"])
        expected["truncated"] = "undecodable"
        write_sidecar(write_truncated_faststart(root / "cut_index_first.mp4"), "index first then cut", ["test"])
        expected["cut_index_first"] = "truncated"
        write_video(root / "audio_only.mp4", video=False, frames=10, seed=7)
        write_sidecar(root / "audio_only.mp4", "only an audio track", ["test"])
        expected["audio_only"] = "no_video_stream"
        write_video(root / "too_long.mp4", frames=25, fps=1, seed=8, audio=False)
        write_sidecar(root / "too_long.mp4", "a clip that is too long", ["test"])
        expected["too_long"] = "too_long"
        write_video(root / "no_tags.mp4", frames=6, seed=9, audio=False)
        write_sidecar(root / "no_tags.mp4", "a clip without hashtags", [])
        expected["no_tags"] = "no_hashtags"
    return expected
