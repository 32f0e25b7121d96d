"""Client uploads -> the tensors the towers take, through the project's own processors, with the service's caps.

The bytes are sniffed (their first bytes, never the client's file name), checked against what the tower reads,
written under a name of ours into a private temporary folder, decoded by ``Processor.load`` and deleted. Nothing a
client sends names a file on this machine.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from languagebind.api import LanguageBind
from languagebind.errors import InputError
from languagebind.processing import ProcessorConfig, build_processor
from languagebind.registry import is_modality
from languagebind.serve.errors import ApiError, input_error

# kind -> suffix of the temporary file the decoders read
_SUFFIX = {"png": ".png", "jpeg": ".jpg", "gif": ".gif", "bmp": ".bmp", "webp": ".webp", "tiff": ".tif",
           "wav": ".wav", "flac": ".flac", "ogg": ".ogg", "mp3": ".mp3", "m4a": ".m4a", "mp4": ".mp4",
           "matroska": ".mkv", "avi": ".avi", "npy": ".npy"}
FAMILY = {"png": "image", "jpeg": "image", "gif": "image", "bmp": "image", "webp": "image", "tiff": "image",
          "wav": "audio", "flac": "audio", "ogg": "audio", "mp3": "audio", "m4a": "audio", "mp4": "video",
          "matroska": "video", "avi": "video", "npy": "array"}
# families each tower reads; a modality not listed (added later) is left to its processor
ACCEPTS = {"image": {"image"}, "thermal": {"image"}, "depth": {"image", "array"}, "audio": {"audio", "video"},
           "video": {"video"}}
# a file family -> the tower that reads it when the client does not say (only if that tower is loaded)
DEFAULT_TOWER = {"image": "image", "audio": "audio", "video": "video", "array": "depth"}


def sniff(data: bytes) -> str | None:
    """The container kind of ``data`` from its first bytes (``None``: unknown)."""
    head = data[:64]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head.startswith(b"BM"):
        return "bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    if head[4:8] == b"ftyp":
        return "m4a" if head[8:12] in (b"M4A ", b"M4B ") else "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    return None


def npy_shape(data: bytes) -> tuple[int, ...]:
    """The shape in a ``.npy`` header (nothing else read); a malformed header -> ``InputError``."""
    try:
        stream = io.BytesIO(data)
        version = np.lib.format.read_magic(stream)
        readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in readers:
            raise ValueError(f".npy format version {version} (1.0 and 2.0 are read)")
        shape, _, dtype = readers[version](stream)  # the header only
    except Exception as err:
        raise InputError("upload", f"not a valid .npy file: {err}") from err
    if dtype.hasobject:
        raise InputError("upload", ".npy arrays of Python objects are not accepted")
    return tuple(shape)


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _preprocess_one(model: LanguageBind, modality: str, path: Path) -> torch.Tensor:
    return model.preprocess(modality, [path])[0]


class Decoder:
    """Uploads of one model's towers -> preprocessed tensors, with the service's limits on pixels and seconds."""

    def __init__(self, model: LanguageBind, max_image_pixels: int, max_audio_seconds: float,
                 max_video_seconds: float, max_points: int) -> None:
        caps = {"max_image_pixels": max_image_pixels, "max_audio_seconds": max_audio_seconds,
                "max_video_seconds": max_video_seconds}
        self.processors: dict[str, Callable[[Path], torch.Tensor]] = {}
        for modality in model.modalities:
            config = model.processor_config(modality)
            if is_modality(modality) and isinstance(config, ProcessorConfig):
                tighter = {k: min(v, getattr(config, k)) for k, v in caps.items()}
                self.processors[modality] = build_processor(modality, dataclasses.replace(config, **tighter)).load
            else:  # a tower whose preprocessing has no such caps: the model's own
                self.processors[modality] = functools.partial(_preprocess_one, model, modality)
        self.max_image_pixels = max_image_pixels
        self.max_points = max_points
        self._tmp = Path(tempfile.mkdtemp(prefix="languagebind-serve-"))
        os.chmod(self._tmp, 0o700)

    @property
    def modalities(self) -> list[str]:
        return list(self.processors)

    def tower_for(self, data: bytes, modality: str | None) -> str:
        """``modality`` when given (and loaded), else the loaded tower that reads this kind of file."""
        if modality is not None:
            if modality not in self.processors:
                loaded = ", ".join(self.processors) or "none"
                raise ApiError(400, f"no {modality!r} tower is loaded to embed the upload (loaded: {loaded})")
            return modality
        kind = sniff(data)
        tower = DEFAULT_TOWER.get(FAMILY.get(kind or "", ""), "")
        if tower not in self.processors:
            what = f"{_article(FAMILY[kind])} {FAMILY[kind]} file ({kind})" if kind else "a file of unknown type"
            raise ApiError(400, f"cannot tell which tower reads {what}; name it with 'modality' "
                                f"(loaded: {', '.join(self.processors)})")
        return tower

    def decode(self, modality: str, data: bytes) -> torch.Tensor:
        """The bytes of one file -> the tower's input tensor; a wrong, corrupt or too large file -> 400/415."""
        if not data:
            raise ApiError(400, f"the {modality} upload is empty")
        kind = sniff(data)
        family = FAMILY.get(kind or "")
        accepted = ACCEPTS.get(modality)
        if accepted is not None and family not in accepted:
            what = f"{_article(family)} {family} file ({kind})" if family else "not a known media file"
            raise ApiError(415, f"the {modality} upload is {what}; the {modality} tower reads "
                                f"{' or '.join(sorted(accepted))} files")
        if kind == "npy":
            self._check_array(modality, npy_shape(data))
        path = self._tmp / f"{uuid.uuid4().hex}{_SUFFIX.get(kind or '', '.bin')}"
        try:
            path.write_bytes(data)
            return self.processors[modality](path)
        except InputError as err:
            raise input_error(err, f"the {modality} upload") from None
        finally:
            path.unlink(missing_ok=True)

    def _check_array(self, modality: str, shape: tuple[int, ...]) -> None:
        elements = int(np.prod(shape)) if shape else 1
        if modality == "depth":
            if elements > self.max_image_pixels:
                raise ApiError(413, f"the depth array has {elements} values (limit {self.max_image_pixels})")
        elif shape and shape[0] > self.max_points:
            raise ApiError(413, f"the {modality} array has {shape[0]} rows (limit {self.max_points})")

    def close(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)
