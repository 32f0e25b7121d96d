"""From a ``PairRecord`` to a sample: pick the text view, pick the frame it pins, decode (and augment).

Sources are handed to the processors in forms they accept (the modality spec's ``in_memory``): paths as they are,
shard members as PIL images (pictures, 16-bit depth PNG), arrays (``.npy``; official shards store millimetres,
ours metres), a ``(T, H, W, 3)`` uint8 array (a clip given as frame files), or a temporary file (video / audio
bytes, any other modality's). A pre-processed tensor (in-memory datasets) is used as it is.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from languagebind.data.augment import AugmentConfig, augment_item
from languagebind.data.records import Blob, PairRecord
from languagebind.data.stream import LoadedSample
from languagebind.data.text import TextSampler
from languagebind.errors import InputError
from languagebind.processing import ProcessorConfig, build_processor
from languagebind.processing.image import ImageLimits, open_image, to_rgb
from languagebind.processing.inputs import decode_errors
from languagebind.registry import get_modality

MILLIMETRES_PER_METRE = 1000.0
PICTURE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm", ".pgm")


class PairLoader:
    """Callable ``(record, rng) -> LoadedSample`` for one modality.

    ``train=True``: the text is drawn by weight and the frame at random (unless the text pins one);
    ``augment`` (if given) applies the training augmentation. ``train=False``: the fixed text choice, frame 0,
    the deterministic processor.
    """

    def __init__(self, modality: str, config: ProcessorConfig, texts: TextSampler,
                 augment: AugmentConfig | None = None, train: bool = True, contrast: bool = False) -> None:
        self.modality, self.config, self.texts = modality, config, texts
        self.augment, self.train = augment, train
        self.contrast = contrast and train  # hand on the record's hard negatives (TextViews.contrast)
        self.processor = build_processor(modality, config)
        self.spec = get_modality(modality)

    def __call__(self, record: PairRecord, rng: np.random.Generator) -> LoadedSample:
        texts = self.texts
        text = texts.sample(record.texts, rng, record.id) if self.train else texts.fixed(record.texts, record.id)
        contrast = record.texts.contrast if self.contrast else ()
        source = pick_source(record, self.modality, text.keyframe, rng if self.train else None)
        if isinstance(source, torch.Tensor):
            pixels = source.float()
            flip = self.augment.flip if self.train and self.augment is not None and self.spec.flip else 0
            if flip and rng.random() < flip:
                pixels = pixels.flip(-1)
            return LoadedSample(record.id, pixels, text, contrast=contrast)
        with materialized(source, self.modality, record, self.processor.limits) as item:
            if self.train and self.augment is not None:
                pixels = augment_item(self.modality, item, self.config, self.augment, rng)
            else:
                pixels = self.processor.load(item)
        return LoadedSample(record.id, pixels, text, contrast=contrast)


def pick_source(record: PairRecord, modality: str, keyframe: int | None,
                rng: np.random.Generator | None) -> object:
    """The record's item for ``modality``; of several files (e.g. depth maps of several keyframes), the pinned
    one, else a random one (``rng``) or the first. A modality whose items are clips keeps all its frames."""
    source = record.sources.get(modality)
    if source is None:
        problems = record.meta.get("problems")
        problem = problems.get(modality) if isinstance(problems, dict) else None
        raise InputError(record.id, problem or f"no {modality} in this sample")
    if get_modality(modality).clip or not isinstance(source, tuple):
        return source
    if keyframe is not None and keyframe < len(source):
        return source[keyframe]
    return source[int(rng.integers(len(source)))] if rng is not None else source[0]


@contextlib.contextmanager
def materialized(source: object, modality: str, record: PairRecord, limits: ImageLimits) -> Iterator[object]:
    """``source`` in a form the processor of ``modality`` reads (see the module docstring): a shard member in an
    in-memory form its spec accepts (``in_memory``), else as a temporary file."""
    accepts = get_modality(modality).in_memory
    suffix = source.suffix.lower() if isinstance(source, Blob) else ""
    if isinstance(source, tuple):
        yield frames_array(source, limits)
    elif not isinstance(source, Blob):
        yield source
    elif "picture" in accepts and suffix in PICTURE_SUFFIXES:
        yield blob_image(source)
    elif "array" in accepts and suffix == ".npy":  # the official layout stores arrays (depth) in millimetres
        metres = blob_array(source)
        yield metres / MILLIMETRES_PER_METRE if record.meta.get("layout") == "official" else metres
    else:
        with tempfile.NamedTemporaryFile(suffix=source.suffix or ".bin", prefix="languagebind-") as handle:
            handle.write(source.data)
            handle.flush()
            yield Path(handle.name)


def blob_image(blob: Blob) -> Image.Image:
    """A shard member as a fully loaded PIL image."""
    with decode_errors(blob.name, "an image"):
        image = Image.open(io.BytesIO(blob.data))
        image.load()
    return image


def blob_array(blob: Blob) -> np.ndarray:
    with decode_errors(blob.name, "an array (.npy)"):
        return np.load(io.BytesIO(blob.data), allow_pickle=False)


def frames_array(frames: tuple[object, ...], limits: ImageLimits) -> np.ndarray:
    """Frame files (paths or shard members) -> (T, H, W, 3) uint8 RGB, for the video processor."""
    arrays = []
    for frame in frames:
        name = frame.name if isinstance(frame, Blob) else frame
        image = blob_image(frame) if isinstance(frame, Blob) else open_image(frame, limits, "a video frame")
        with decode_errors(name, "a video frame"):
            arrays.append(np.asarray(to_rgb(image, name), dtype=np.uint8))
    if len({a.shape for a in arrays}) != 1:
        raise InputError(str(frames[0]), f"video frames differ in size: {sorted({a.shape for a in arrays})}")
    return np.stack(arrays)
