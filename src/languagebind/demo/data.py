"""The demo's data: generate VIDAL-mini once, then decode every item ONCE into the tensor its tower takes.

Training a tiny tower for a minute cannot afford decoding MP4 / WAV files at every step, so each split is run
through the real processors (``languagebind.processing``, the same code as inference) once and kept as a
float16 ``.npy`` per (split, modality, preprocessing), reused by later runs. Depth and thermal use the clip's
middle keyframe (the frame the still image was taken from).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from languagebind.data.synthetic.captions import caption, perceived
from languagebind.data.synthetic.vocab import Vocabulary
from languagebind.data.text import TextViews
from languagebind.errors import InputError
from languagebind.processing import ProcessorConfig, build_processor
from languagebind.utils.io import save_npy_atomic

# Which VIDAL-mini modalities come as several keyframes, and which pictures may train with their clip's frames.
KEYFRAME_MODALITIES = ("depth", "thermal")
CLIP_VIEW_MODALITIES = ("image",)


@dataclass
class Split:
    """One split's items as the manifest lists them: ids, ground truth (``meta``), text views, media paths."""

    name: str
    root: Path
    ids: list[str]
    metas: list[dict[str, Any]]
    texts: list[dict[str, Any]]
    media: list[dict[str, Any]]

    def __len__(self) -> int:
        return len(self.ids)

    def source(self, index: int, modality: str) -> Path:
        """The file of ``modality`` for item ``index`` (the middle keyframe of depth / thermal)."""
        value = self.media[index].get(modality)
        if value is None:
            raise InputError(self.ids[index], f"no {modality} in this item")
        if isinstance(value, list):
            value = value[len(value) // 2]
        return self.root / value

    def keyframes(self, index: int, modality: str, count: int) -> list[Path]:
        """``count`` of the item's keyframes of ``modality`` (depth / thermal): the middle one (what
        :meth:`source` gives) first, then others spread evenly over the clip."""
        value = self.media[index].get(modality)
        if not isinstance(value, list):
            raise InputError(self.ids[index], f"no {modality} keyframes in this item")
        middle = len(value) // 2
        spread = np.linspace(0, len(value) - 1, min(count, len(value))).round().astype(int)
        picks = [middle, *[int(k) for k in spread if k != middle][:count - 1]]
        return [self.root / value[k] for k in picks]

    def views(self, index: int, modality: str, coarse: bool = False, meta: dict[str, Any] | None = None,
              full_share: float | None = None, contrast: Sequence[Sequence[str]] = (),
              vocab: Vocabulary | None = None) -> TextViews:
        """The item's VIDAL text views plus, as the ``captions`` view, its caption of ``modality`` (naming what
        that modality perceives) and, with ``coarse``, the coarser true captions of :func:`coarse_captions`
        (``full_share``: the share of draws that give the full caption, else one in the list's length).
        ``contrast``: groups of attributes whose other values (in ``vocab``) make the hard negatives
        (:func:`hard_negatives`).
        ``meta`` replaces the item's ground truth (an augmented copy of the item)."""
        views = TextViews.from_ours(self.texts[index])
        meta = self.metas[index] if meta is None else meta
        full = caption(modality, meta)
        coarser = coarse_captions(modality, meta) if coarse else []
        repeats = max(1, round(full_share * len(coarser) / (1 - full_share))) if coarser and full_share else 1
        negatives: list[str] = []
        if contrast:
            if vocab is None:
                raise ValueError("hard negatives (contrast) need the dataset's vocabulary")
            negatives = hard_negatives(modality, meta, contrast, vocab)
        return dataclasses.replace(views, captions=(full,) * repeats + tuple(coarser),
                                   contrast=(full, *negatives) if negatives else ())


def coarse_captions(modality: str, meta: dict[str, Any]) -> list[str]:
    """Captions naming less than everything ``modality`` perceives of an item: its category alone, and its
    category with each one other attribute ("a photo of a star", "a photo of two stars", ...); for a modality
    that perceives no category (IMU), each attribute alone ("... moving left", "... moving quickly"); all true."""
    seen = perceived(modality, meta)
    if "category" not in seen:
        return [caption(modality, {a: v}) for a, v in seen.items()]
    category = {"category": seen["category"]}
    return [caption(modality, category)] + [caption(modality, {**category, a: v}) for a, v in seen.items()
                                           if a != "category"]


def hard_negatives(modality: str, meta: dict[str, Any], groups: Sequence[Sequence[str]], vocab: Vocabulary
                   ) -> list[str]:
    """False captions that differ from the item's full caption only in the attributes of one group: per group,
    every other combination of their values (``[direction, speed]``: 7, ``[category]``: 9), minus those naming a
    (category, value) pair held out of training; each once, and none the modality's caption cannot tell from the
    true one (an attribute it does not perceive)."""
    held_out = vocab.held_out()
    true = caption(modality, meta)
    out: dict[str, None] = {}
    for attributes in groups:
        for values in itertools.product(*(vocab.values(a) for a in attributes)):
            changed = dict(zip(attributes, values, strict=True))
            category = changed.get("category", meta["category"])
            if any(held_out.get(a, {}).get(category) == v for a, v in {**meta, **changed}.items()):
                continue
            variant = caption(modality, {**meta, **changed})
            if variant != true:
                out[variant] = None
    return list(out)


def read_split(manifest: str | Path, name: str) -> Split:
    """A split from its JSONL manifest (paths relative to the manifest's folder)."""
    manifest = Path(manifest)
    try:
        lines = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    except (OSError, ValueError) as err:
        raise InputError(manifest, f"cannot read the split manifest ({err})") from err
    return Split(name=name, root=manifest.parent, ids=[r["id"] for r in lines],
                 metas=[r.get("meta", {}) for r in lines], texts=[r.get("text", {}) for r in lines],
                 media=[{k: v for k, v in r.items() if k not in ("id", "meta", "text")} for r in lines])


@dataclass(frozen=True)
class Views:
    """Which decoded views of each item a tower trains on (beyond the one it is evaluated on).

    ``keyframes``: depth / thermal: this many keyframes of the clip (the official loader also draws a random
    keyframe per sample). ``video_frames``: image: the still plus this many frames decoded from the clip's video
    (stills of the same scene with the objects elsewhere). 0 / 1: the evaluation view only.
    """

    keyframes: int = 1
    video_frames: int = 0

    @property
    def many(self) -> bool:
        return self.keyframes > 1 or self.video_frames > 0


def _decode_chunk(modality: str, config: ProcessorConfig, items: Sequence[Path | list[Path]],
                  views: Views = Views()) -> np.ndarray:
    torch.set_num_threads(1)
    processor = build_processor(modality, config)
    if views.video_frames:
        frames = build_processor("video", dataclasses.replace(config, num_frames=views.video_frames))
    out = []
    for item in items:
        if isinstance(item, list):  # keyframes
            out.append(np.stack([processor.load(p).numpy() for p in item]))
        elif views.video_frames:  # (still, video path): the still, then the clip's frames (C, T, H, W) -> T C H W
            still, video = processor.load(item[0]).numpy(), frames.load(item[1]).numpy()
            out.append(np.concatenate([still[None], video.transpose(1, 0, 2, 3)]))
        else:
            out.append(processor.load(item).numpy())
    return np.stack(out).astype(np.float16)


def decode_split(split: Split, modality: str, config: ProcessorConfig, workers: int = 2,
                 chunk: int = 64, views: Views = Views()) -> np.ndarray:
    """Every item of ``split`` through ``modality``'s processor -> float16 array (N, *item shape), or with
    ``views.many`` (N, V, *item shape): the evaluation view first, then the extra training views."""
    items: list[Any]
    if views.keyframes > 1:
        items = [split.keyframes(i, modality, views.keyframes) for i in range(len(split))]
    elif views.video_frames:
        items = [(split.source(i, modality), split.source(i, "video")) for i in range(len(split))]
    else:
        items = [split.source(i, modality) for i in range(len(split))]
    chunks = [items[i:i + chunk] for i in range(0, len(items), chunk)]
    if workers <= 1 or len(chunks) == 1:
        return np.concatenate([_decode_chunk(modality, config, c, views) for c in chunks])
    with ProcessPoolExecutor(max_workers=workers) as pool:
        n = len(chunks)
        return np.concatenate(list(pool.map(_decode_chunk, [modality] * n, [config] * n, chunks, [views] * n)))


def cache_key(split: Split, modality: str, config: ProcessorConfig, views: Views = Views()) -> str:
    """A name for the decoded tensors that changes with the items, the preprocessing or the views."""
    extra = [dataclasses.asdict(views)] if views.many else []
    digest = hashlib.sha256(json.dumps([split.ids, split.media[:1], dataclasses.asdict(config), *extra],
                                       sort_keys=True, default=str).encode())
    digest.update((split.root / "manifest.jsonl").read_bytes() if (split.root / "manifest.jsonl").is_file() else b"")
    return f"{split.name}-{modality}-{digest.hexdigest()[:12]}"


def split_tensors(split: Split, modality: str, config: ProcessorConfig, cache_dir: str | Path,
                  workers: int = 2, views: Views = Views()) -> torch.Tensor:
    """The decoded (float16) tensors of ``split`` for ``modality`` (see :func:`decode_split`), from
    ``cache_dir`` when already made."""
    path = Path(cache_dir) / f"{cache_key(split, modality, config, views)}.npy"
    if path.is_file():
        array = np.load(path)
        if len(array) == len(split):
            return torch.from_numpy(array)
    array = decode_split(split, modality, config, workers, views=views)
    save_npy_atomic(path, array)
    return torch.from_numpy(array)


class ItemViews:
    """Indexable training items with several views each: ``items[i]`` is a tuple of item ``i``'s views, and the
    trainer's loader draws one of them per sample (as it draws a keyframe of a VIDAL clip)."""

    def __init__(self, pixels: torch.Tensor) -> None:
        self.pixels = pixels  # (N, V, *item shape)

    def __len__(self) -> int:
        return len(self.pixels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        return tuple(self.pixels[index].unbind(0))


OPPOSITE = {"left": "right", "right": "left", "up": "down", "down": "up"}


def reversed_clips(split: Split, pixels: torch.Tensor, held_out: dict[str, dict[str, object]]
                   ) -> tuple[torch.Tensor, list[int], list[dict[str, Any]]]:
    """Video items played backwards: the same objects moving the opposite way at the same speed, a true
    (clip, caption) pair with the direction swapped. Returns the reversed tensors (N', C, T, H, W), the item
    indices they come from, and their ground truth; clips whose reversed direction is one held out for their
    category (the compositional split's) are left out."""
    keep, metas = [], []
    for i, meta in enumerate(split.metas):
        flipped = {**meta, "direction": OPPOSITE[meta["direction"]]}
        if held_out.get("direction", {}).get(meta["category"]) != flipped["direction"]:
            keep.append(i)
            metas.append(flipped)
    return pixels[keep].flip(2), keep, metas


class ShiftedItems:
    """Training items that come back shifted by a random offset of up to ``shift`` pixels each time they are read
    (edges replicated; every frame of a video by the same offset), to keep a tiny tower from memorising them.

    Indexable like the tensor it wraps, as ``MemoryRecords`` expects; the offsets come from a seeded generator,
    so a run is repeatable.
    """

    def __init__(self, pixels: torch.Tensor, shift: int, seed: int = 0) -> None:
        self.pixels, self.shift = pixels, shift
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.pixels)

    def __getitem__(self, index: int) -> torch.Tensor:
        item = self.pixels[index].float()
        s = self.shift
        dx, dy = (torch.randint(-s, s + 1, (2,), generator=self.generator) + s).tolist()
        h, w = item.shape[-2:]
        flat = item.reshape(-1, 1, h, w)
        padded = torch.nn.functional.pad(flat, (s, s, s, s), mode="replicate")
        return padded[:, 0, dy:dy + h, dx:dx + w].reshape(item.shape)
