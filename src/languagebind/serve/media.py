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
from languagebind.registry import get_modality, guess_modality, is_modality
from languagebind.serve.errors import ApiError, input_error

# container kind (``sniff``) -> the file endings it goes by, the first naming the temporary file the decoders read
ENDINGS = {"png": (".png",), "jpeg": (".jpg", ".jpeg"), "gif": (".gif",), "bmp": (".bmp",), "webp": (".webp",),
           "tiff": (".tif", ".tiff"), "wav": (".wav",), "flac": (".flac",), "ogg": (".ogg", ".oga", ".opus"),
           "mp3": (".mp3",), "m4a": (".m4a",), "mp4": (".mp4", ".m4v", ".mov"), "matroska": (".mkv", ".webm"),
           "avi": (".avi",), "npy": (".npy",), "npz": (".npz",), "hdf5": (".h5", ".hdf5"), "ply": (".ply",),
           "off": (".off",)}
_MAGIC = {ending for endings in ENDINGS.values() for ending in endings}
# previews of picture-like modalities: an uploaded array of theirs is pixels (else rows: points, time steps)
_PICTURES = ("thumbnail", "heatmap", "channel")


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
    if head.startswith(b"PK\x03\x04"):
        return "npz"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "hdf5"
    if head.startswith(b"ply") and head[3:4] in (b"\n", b"\r"):
        return "ply"
    if head.startswith((b"OFF", b"NOFF", b"COFF")):
        return "off"
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
        self.registered = [m for m in self.processors if is_modality(m)]  # towers whose spec routes uploads
        self.max_image_pixels = max_image_pixels
        self.max_points = max_points
        self._tmp = Path(tempfile.mkdtemp(prefix="languagebind-serve-"))
        os.chmod(self._tmp, 0o700)

    @property
    def modalities(self) -> list[str]:
        return list(self.processors)

    def tower_for(self, data: bytes, modality: str | None) -> str:
        """``modality`` when given (and loaded), else the loaded tower that reads this kind of file: the only one,
        or the one whose spec claims it (``guess_for``)."""
        if modality is not None:
            if modality not in self.processors:
                loaded = ", ".join(self.processors) or "none"
                raise ApiError(400, f"no {modality!r} tower is loaded to embed the upload (loaded: {loaded})")
            return modality
        kind = sniff(data)
        guesses = {guess_modality(ending, self.registered) for ending in ENDINGS.get(kind or "", ())}
        towers = {tower for tower, _ in guesses if tower is not None}
        readers = sorted({m for _, found in guesses for m in found})
        if len(towers) == 1:
            return towers.pop()
        what = f"a {kind} file" if kind else "a file of unknown type"
        why = f"{', '.join(readers)} all read it" if readers else "no loaded tower reads it"
        raise ApiError(400, f"cannot tell which tower reads {what} ({why}); name it with 'modality' "
                            f"(loaded: {', '.join(self.processors)})")

    def guesses(self) -> dict[str, str]:
        """File ending -> the loaded tower an upload of it goes to when the client does not say (``GET /indices``;
        endings that no tower or several unclaimed towers read are left out)."""
        endings = sorted({e for m in self.registered for e in self.accepts(m) or ()})
        return {ending: tower for ending in endings
                for tower in [guess_modality(ending, self.registered)[0]] if tower is not None}

    def picture(self, modality: str, path: Path) -> np.ndarray:
        """The picture a spec's own preview function draws of an item, preprocessed by the loaded tower."""
        if modality not in self.processors:
            raise InputError(path.name, f"no {modality} tower is loaded to draw its preview")
        draw = get_modality(modality).resolve("preview")
        return np.asarray(draw(self.processors[modality](path).numpy()), dtype=np.uint8)

    def accepts(self, modality: str) -> tuple[str, ...] | None:
        """The file endings the ``modality`` tower reads (None: a tower outside the registry, its processor says)."""
        if not is_modality(modality):
            return None
        spec = get_modality(modality)
        return tuple(dict.fromkeys(spec.extensions + spec.also_reads))

    def _ending(self, modality: str, kind: str | None) -> str | None:
        """The ending to store an upload of ``kind`` under for ``modality`` (None: the tower does not read it).
        Content without a magic number (CSV, XYZ text, ...) goes as the tower's first such file type."""
        accepted = self.accepts(modality)
        if accepted is None:
            return ENDINGS[kind][0] if kind else ".bin"
        if kind is None:
            return next((e for e in accepted if e not in _MAGIC), None)
        return next((e for e in ENDINGS[kind] if e in accepted), None)

    def decode(self, modality: str, data: bytes) -> torch.Tensor:
        """The bytes of one file -> the tower's input tensor; a wrong, corrupt or too large file -> 400/415."""
        if not data:
            raise ApiError(400, f"the {modality} upload is empty")
        kind = sniff(data)
        ending = self._ending(modality, kind)
        if ending is None:
            what = f"a {kind} file" if kind else "not a known media file"
            raise ApiError(415, f"the {modality} upload is {what}; the {modality} tower reads "
                                f"{' '.join(self.accepts(modality) or ())} files")
        if kind == "npy":
            self._check_array(modality, npy_shape(data))
        path = self._tmp / f"{uuid.uuid4().hex}{ending}"
        try:
            path.write_bytes(data)
            return self.processors[modality](path)
        except InputError as err:
            raise input_error(err, f"the {modality} upload") from None
        finally:
            path.unlink(missing_ok=True)

    def _check_array(self, modality: str, shape: tuple[int, ...]) -> None:
        elements = int(np.prod(shape)) if shape else 1
        if is_modality(modality) and get_modality(modality).preview_kind in _PICTURES:
            if elements > self.max_image_pixels:
                raise ApiError(413, f"the {modality} array has {elements} values (limit {self.max_image_pixels})")
        elif shape and max(shape) > self.max_points:
            raise ApiError(413, f"the {modality} array has {max(shape)} rows (limit {self.max_points})")

    def close(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)
