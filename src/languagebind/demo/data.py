"""The demo's data: generate VIDAL-mini once, then decode every item ONCE into the tensor its tower takes.

Training a tiny tower for a minute cannot afford decoding MP4 / WAV files at every step, so each split is run
through the real processors (``languagebind.processing``, the same code as inference) once and kept as a
float16 ``.npy`` per (split, modality, preprocessing), reused by later runs. Depth and thermal use the clip's
middle keyframe (the frame the still image was taken from).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from languagebind.build.synthetic.captions import caption, perceived
from languagebind.data.text import TextViews
from languagebind.errors import InputError
from languagebind.processing import ProcessorConfig, build_processor
from languagebind.utils.io import save_npy_atomic


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

    def views(self, index: int, modality: str, coarse: bool = False) -> TextViews:
        """The item's VIDAL text views plus, as the ``captions`` view, its caption of ``modality`` (naming what
        that modality perceives) and, with ``coarse``, the coarser true captions of :func:`coarse_captions`."""
        views = TextViews.from_ours(self.texts[index])
        meta = self.metas[index]
        captions = (caption(modality, meta), *(coarse_captions(modality, meta) if coarse else ()))
        return dataclasses.replace(views, captions=captions)


def coarse_captions(modality: str, meta: dict[str, Any]) -> list[str]:
    """Captions naming less than everything ``modality`` perceives of an item: its category alone, and its
    category with each one other attribute ("a photo of a star", "a photo of two stars", ...); all true."""
    seen = perceived(modality, meta)
    category = {"category": seen["category"]}
    return [caption(modality, category)] + [caption(modality, {**category, a: v}) for a, v in seen.items()
                                           if a != "category"]


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


def _decode_chunk(modality: str, config: ProcessorConfig, paths: Sequence[Path]) -> np.ndarray:
    torch.set_num_threads(1)
    processor = build_processor(modality, config)
    return np.stack([processor.load(p).numpy() for p in paths]).astype(np.float16)


def decode_split(split: Split, modality: str, config: ProcessorConfig, workers: int = 2,
                 chunk: int = 64) -> np.ndarray:
    """Every item of ``split`` through ``modality``'s processor -> float16 array (N, *item shape)."""
    paths = [split.source(i, modality) for i in range(len(split))]
    chunks = [paths[i:i + chunk] for i in range(0, len(paths), chunk)]
    if workers <= 1 or len(chunks) == 1:
        return np.concatenate([_decode_chunk(modality, config, c) for c in chunks])
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return np.concatenate(list(pool.map(_decode_chunk, [modality] * len(chunks), [config] * len(chunks), chunks)))


def cache_key(split: Split, modality: str, config: ProcessorConfig) -> str:
    """A name for the decoded tensors that changes with the items or the preprocessing."""
    digest = hashlib.sha256(json.dumps([split.ids, split.media[:1], dataclasses.asdict(config)],
                                       sort_keys=True, default=str).encode())
    digest.update((split.root / "manifest.jsonl").read_bytes() if (split.root / "manifest.jsonl").is_file() else b"")
    return f"{split.name}-{modality}-{digest.hexdigest()[:12]}"


def split_tensors(split: Split, modality: str, config: ProcessorConfig, cache_dir: str | Path,
                  workers: int = 2) -> torch.Tensor:
    """The decoded (float16) tensors of ``split`` for ``modality``, from ``cache_dir`` when already made."""
    path = Path(cache_dir) / f"{cache_key(split, modality, config)}.npy"
    if path.is_file():
        array = np.load(path)
        if len(array) == len(split):
            return torch.from_numpy(array)
    array = decode_split(split, modality, config, workers)
    save_npy_atomic(path, array)
    return torch.from_numpy(array)


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
