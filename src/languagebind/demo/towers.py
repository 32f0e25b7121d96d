"""Build and train the demo's towers: the same model code as full size, only a small geometry, each trained
with the project's trainer (``languagebind.train``) on its own (item, text) pairs against the frozen text tower.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from languagebind.data import MemoryRecords, TextViews
from languagebind.demo.data import ItemViews, ShiftedItems
from languagebind.demo.presets import DemoConfig, TowerPreset
from languagebind.model.config import CheckpointConfig, TransformerConfig
from languagebind.model.core import LanguageBindModel, init_weights
from languagebind.model.init import init_from_tower
from languagebind.model.presets import hf_text_config, tiny_config
from languagebind.pretrained import save_checkpoint
from languagebind.registry import get_modality
from languagebind.train import TrainConfig, train
from languagebind.utils.io import write_json_atomic

HISTORY_FILE = "history.json"


def tower_config(modality: str, preset: TowerPreset, config: DemoConfig) -> CheckpointConfig:
    """The checkpoint config of one demo tower (the frozen HF text tower of ``config`` as its text side)."""
    vision = TransformerConfig(width=preset.width, layers=preset.layers, heads=preset.heads,
                               mlp_dim=preset.width * preset.mlp_ratio, act="gelu")
    text = hf_text_config(config.text_model, config.text_width)
    checkpoint = tiny_config(modality, projection_dim=config.text_width, image_size=preset.image_size,
                             patch_size=preset.patch_size, num_frames=preset.num_frames, tube_size=preset.tube_size,
                             vision=vision, text=text)
    if not preset.options:
        return checkpoint
    options = {**checkpoint.vision.options, **preset.options}
    return dataclasses.replace(checkpoint, vision=dataclasses.replace(checkpoint.vision, options=options))


def fingerprint(modality: str, preset: TowerPreset, config: DemoConfig, data_key: str) -> dict[str, Any]:
    """What a trained tower depends on (with the tower it starts from); a saved tower is reused only when this
    matches."""
    out = {"modality": modality, "preset": json.loads(json.dumps(preset.__dict__, default=list)),
           "text_model": config.text_model, "seed": config.seed, "data": data_key}
    if preset.init_from:
        source = preset.init_from
        out["init_from"] = fingerprint(source, config.towers[source], config, data_key)
    return out


@dataclass
class TrainedTower:
    """A tower's checkpoint directory, its loss per step, the seconds it took (0 when reused)."""

    directory: Path
    losses: list[float]
    seconds: float
    reused: bool


def load_trained(directory: Path, expected: dict[str, Any]) -> TrainedTower | None:
    """The tower saved in ``directory`` if it was trained with ``expected`` settings, else None."""
    try:
        saved = json.loads((directory / HISTORY_FILE).read_text())
    except (OSError, ValueError):
        return None
    if saved.get("fingerprint") != expected or not (directory / "config.json").is_file():
        return None
    return TrainedTower(directory, saved["losses"], saved["seconds"], reused=True)


def train_tower(modality: str, preset: TowerPreset, config: DemoConfig, text_tower: torch.nn.Module,
                pixels: torch.Tensor | ItemViews, views: Sequence[TextViews], ids: Sequence[str],
                text_cache: dict[str, torch.Tensor], out_dir: Path, expected: dict[str, Any],
                progress: bool | None = None, on_step: Callable[[dict[str, Any]], None] | None = None,
                start_from: torch.nn.Module | None = None) -> TrainedTower:
    """Train ``modality``'s tower on in-memory (pixels, text views) and save it to ``out_dir``: from scratch, or
    from ``start_from`` (another trained tower, see ``init_from_tower``).

    ``text_tower`` is the shared frozen language tower; ``text_cache`` its embeddings of the training texts.
    """
    checkpoint = tower_config(modality, preset, config)
    model = LanguageBindModel({modality: checkpoint}, text=text_tower)
    init_weights(model.towers, torch.Generator().manual_seed(config.seed))
    if start_from is not None:
        init_from_tower(model, modality, start_from, preset.temporal_std)
    spatial = get_modality(modality).flip  # pictures: may be shifted / flipped
    items = ShiftedItems(pixels, preset.shift, config.seed) if preset.shift and spatial else pixels
    run_dir = out_dir.parent / f".{out_dir.name}-run"
    shutil.rmtree(run_dir, ignore_errors=True)
    cfg = TrainConfig(
        modality=modality, train_data=MemoryRecords(modality, items, list(views), ids, origin=f"demo-{modality}"),
        # a flip of a clip turns a motion "left" into "right"
        tuning="full", augment=preset.flip and not get_modality(modality).clip, flip=0.5,
        text_weights=dict(preset.texts), batch_size=preset.batch_size, max_steps=preset.steps, lr=preset.lr,
        weight_decay=preset.weight_decay, lr_multipliers=dict(preset.lr_multipliers), warmup_steps=preset.warmup,
        init_temp=preset.temperature, learn_temp=preset.learn_temperature,
        contrast_weight=preset.hard_weight if preset.hard_negatives else 0.0,
        contrast_temperature=preset.hard_temperature,
        save_every=preset.steps, keep_checkpoints=1, log_every=1, progress=progress, seed=config.seed,
        device="cpu", precision=preset.precision)
    started = time.perf_counter()
    result = train(cfg, run_dir, model=model, tokenizer=getattr(text_tower, "tokenizer", None), text_cache=text_cache,
                   on_step=on_step)
    seconds = time.perf_counter() - started
    losses = [float(h["loss"]) for h in result.history]
    shutil.rmtree(out_dir, ignore_errors=True)
    save_checkpoint(out_dir, result.model, modality)
    write_json_atomic(out_dir / HISTORY_FILE, {"fingerprint": expected, "losses": losses, "seconds": seconds,
                                               "steps": result.steps}, indent=None)
    shutil.rmtree(run_dir, ignore_errors=True)
    return TrainedTower(out_dir, losses, seconds, reused=False)
