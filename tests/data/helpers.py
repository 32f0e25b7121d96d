"""Tiny training data in the three formats (our manifest, official VIDAL JSON, tar shards), written by tests.

Each clip has a class; its media carry the class (a colour, a tone) and its texts name it, so a tiny model can
learn the pairing. Media are small real files (JPEG/PNG/WAV/MP4), so the real decoders run.
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220), "yellow": (230, 220, 30),
           "purple": (150, 40, 200), "cyan": (30, 210, 210), "orange": (240, 140, 20), "grey": (128, 128, 128)}
SIZE = (48, 40)  # (W, H): not square, so resize/crop paths run


@dataclass(frozen=True)
class Clip:
    id: str
    label: str
    index: int  # position of the label in COLOURS

    @property
    def rgb(self) -> tuple[int, int, int]:
        return COLOURS[self.label]

    def texts(self) -> dict[str, object]:
        return {"raw": f"My {self.label} thing video #shorts #{self.label}",
                "video_caption": f"a {self.label} scene", "polished_caption": f"a clip that is all {self.label}",
                "sound_caption": f"a tone of the {self.label} kind",
                "keyframe_captions": [f"frame {k} is {self.label}" for k in range(8)]}

    def official_texts(self) -> dict[str, object]:
        t = self.texts()
        return {"raw": t["raw"], "mplug": t["video_caption"], "polish_mplug": t["polished_caption"],
                "sound_mplug": t["sound_caption"], "ofa": t["keyframe_captions"]}


def make_clips(n: int, classes: int = 8, prefix: str = "clip") -> list[Clip]:
    labels = list(COLOURS)[:classes]
    return [Clip(f"{prefix}{i:04d}", labels[i % classes], i % classes) for i in range(n)]


# -- media ---------------------------------------------------------------------------------------------
def image_bytes(rgb: tuple[int, int, int], fmt: str = "JPEG", seed: int = 0) -> bytes:
    noise = np.random.default_rng(seed).integers(-12, 12, (SIZE[1], SIZE[0], 3))
    pixels = np.clip(np.array(rgb)[None, None] + noise, 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format=fmt)
    return out.getvalue()


def depth_png_bytes(mm: int) -> bytes:
    data = np.full((SIZE[1], SIZE[0]), mm, dtype=np.uint16)
    data[: SIZE[1] // 2] += 300
    out = io.BytesIO()
    Image.fromarray(data).save(out, format="PNG")
    return out.getvalue()


def depth_npy_bytes(mm: int) -> bytes:
    out = io.BytesIO()
    np.save(out, np.full((SIZE[1], SIZE[0]), float(mm), dtype=np.float32))
    return out.getvalue()


def wav_bytes(freq: float, seconds: float = 0.6, rate: int = 16000) -> bytes:
    import soundfile

    t = np.arange(int(seconds * rate)) / rate
    out = io.BytesIO()
    soundfile.write(out, (0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate, format="WAV")
    return out.getvalue()


def mp4_bytes(rgb: tuple[int, int, int], frames: int = 10) -> bytes:
    import av

    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        for k in range(frames):
            pixels = np.full((SIZE[1], SIZE[0], 3), rgb, dtype=np.uint8)
            pixels[:, : (k % SIZE[0])] //= 2
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def clip_media(clip: Clip, modality: str) -> bytes | list[bytes]:
    """One modality of a clip as file bytes: video, audio, image, depth (8 PNG), thermal (8 JPG)."""
    if modality == "video":
        return mp4_bytes(clip.rgb)
    if modality == "audio":
        return wav_bytes(300 + 150 * clip.index)
    if modality == "image":
        return image_bytes(clip.rgb)
    if modality == "depth":
        return [depth_png_bytes(800 + 900 * clip.index)] * 8
    return [image_bytes(clip.rgb, seed=k) for k in range(8)]


# -- formats -------------------------------------------------------------------------------------------
def write_manifest(root: Path, clips: list[Clip], modalities: tuple[str, ...] = ("image",)) -> Path:
    """``root/manifest.jsonl`` + media under ``root``; only ``modalities`` are written."""
    lines = []
    for clip in clips:
        entry: dict[str, object] = {"id": clip.id, "text": clip.texts(), "meta": {"label": clip.label}}
        for modality in modalities:
            suffix = {"video": ".mp4", "audio": ".wav", "image": ".jpg", "depth": ".png", "thermal": ".jpg"}[modality]
            if modality in ("depth", "thermal"):
                names = [f"{modality}/{clip.id}_{k}{suffix}" for k in range(8)]
                for name, data in zip(names, clip_media(clip, modality), strict=True):
                    _write(root / name, data)
                entry[modality] = names
            else:
                name = f"{modality}/{clip.id}{suffix}"
                _write(root / name, clip_media(clip, modality))
                entry[modality] = name
        lines.append(json.dumps(entry))
    path = root / "manifest.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def write_vidal(root: Path, clips: list[Clip], modalities: tuple[str, ...] = ("depth",)) -> tuple[Path, Path]:
    """An official annotation JSON and its data root (official file layout, folder ``part0``)."""
    data_root = root / "data"
    annotation = {}
    for clip in clips:
        folder = "part0"
        annotation[clip.id] = {"folder": folder, **clip.official_texts()}
        if "video" in modalities:
            _write(data_root / f"{folder}_resize256_skip15" / f"{clip.id}.mp4", clip_media(clip, "video"))
        if "depth" in modalities:
            for k, data in enumerate(clip_media(clip, "depth")):
                _write(data_root / folder / f"{clip.id}_depth_f8glpn_folder" / f"{k}.png", data)
        if "thermal" in modalities:
            for k, data in enumerate(clip_media(clip, "thermal")):
                _write(data_root / folder / f"{clip.id}_thermal_folder" / f"{k}.jpg", data)
        if "audio" in modalities:
            _write(data_root / folder / f"{clip.id}.wav", clip_media(clip, "audio"))
    path = root / "annotation.json"
    path.write_text(json.dumps(annotation))
    return path, data_root


def shard_members(clip: Clip, layout: str, modalities: tuple[str, ...]) -> dict[str, bytes]:
    """The ``field -> bytes`` members of one clip in our layout or the official one."""
    if layout == "ours":
        members = {"json": json.dumps({"id": clip.id, "text": clip.texts(), "meta": {"label": clip.label}}).encode()}
        for modality in modalities:
            if modality in ("depth", "thermal"):
                suffix = "png" if modality == "depth" else "jpg"
                members.update({f"{modality}.{k}.{suffix}": d for k, d in enumerate(clip_media(clip, modality))})
            else:
                suffix = {"video": "mp4", "audio": "wav", "image": "jpg"}[modality]
                members[f"{modality}.{suffix}"] = clip_media(clip, modality)
        return members
    texts = clip.official_texts()
    members = {"raw.txt": texts["raw"].encode(), "mplug.txt": texts["mplug"].encode(),
               "polish_mplug.txt": ("In the video, " + texts["polish_mplug"]).encode()}
    members.update({f"ofa{k}.txt": t.encode() for k, t in enumerate(texts["ofa"])})
    if "video" in modalities:
        members.update({f"frm{k}.jpg": image_bytes(clip.rgb, seed=k) for k in range(8)})
    if "thermal" in modalities:
        members["tml0.jpg"] = image_bytes(clip.rgb)
    if "depth" in modalities:
        members["dep0.npy"] = depth_npy_bytes(800 + 900 * clip.index)
    return members


def write_shards(root: Path, clips: list[Clip], per_shard: int, layout: str = "ours",
                 modalities: tuple[str, ...] = ("image",), edit=None) -> list[Path]:
    """``root/shard-00000{k}.tar``; ``edit(clip, members)`` may change a clip's members (to make bad data)."""
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for start in range(0, len(clips), per_shard):
        path = root / f"shard-{start // per_shard:06d}.tar"
        with tarfile.open(path, "w") as tar:
            for clip in clips[start:start + per_shard]:
                members = shard_members(clip, layout, modalities)
                if edit is not None:
                    members = edit(clip, members)
                for field, data in members.items():
                    info = tarfile.TarInfo(f"{clip.id}.{field}")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        paths.append(path)
    return paths


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
