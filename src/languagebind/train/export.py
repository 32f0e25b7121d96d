"""Export a training run: the starting model rebuilt from ``init``, the trained weights of a checkpoint loaded,
LoRA adapters merged, written in our format (``safetensors``) or the official one (``pretrained.save_checkpoint``);
both load with ``LanguageBind.from_pretrained``."""

from __future__ import annotations

from pathlib import Path

import torch

from languagebind.errors import CheckpointError
from languagebind.hub import CardInfo, run_results
from languagebind.pretrained import FORMATS, Pretrained, save_checkpoint
from languagebind.train import checkpoint as ckpt
from languagebind.train.optim import select_trainable
from languagebind.train.recipe import TrainConfig
from languagebind.train.start import frozen_fingerprint, merged_for_export, starting_model


def load_run(run_dir: str | Path, checkpoint: str | Path | None = None) -> tuple[Pretrained, TrainConfig, Path]:
    """The model (with its tokenizer) at a checkpoint of ``run_dir`` (default: the newest valid one), adapters
    not merged, in eval mode."""
    from languagebind.train.loop import set_initial_temperature

    if checkpoint is not None:
        path, state = Path(checkpoint), ckpt.validate(Path(checkpoint))
    else:
        found = ckpt.find_resume(Path(run_dir))
        if found is None:
            raise CheckpointError(run_dir, "no valid checkpoint in the run directory")
        path, state = found
    cfg = TrainConfig.from_dict(state["config"])
    start = starting_model(cfg)
    set_initial_temperature(start.model, cfg)
    trainable = select_trainable(start.model, cfg)
    if frozen_fingerprint(start.model) != state["fingerprint"]:
        raise CheckpointError(path, f"the starting weights ({cfg.init}) differ from the ones the run trained on "
                                    "(a run started from an in-memory model is saved with save_pretrained)")
    weights, _ = ckpt.load_tensors(path)
    if set(weights) != set(trainable):
        raise CheckpointError(path, "trained weights do not match the run's trainable set")
    with torch.no_grad():
        for name, param in trainable.items():
            param.copy_(weights[name])
    start.model.requires_grad_(False).eval()
    return start, cfg, path


def export_run(run_dir: str | Path, out: str | Path, format: str = "safetensors",
               checkpoint: str | Path | None = None) -> Path:
    """Write the run's merged model to ``out``; returns ``out``."""
    if format not in FORMATS:
        raise CheckpointError(out, f"unknown export format {format!r}; use one of {', '.join(FORMATS)}")
    run, cfg, _ = load_run(run_dir, checkpoint)
    merged_for_export(run.model, cfg.modality)
    note = f"trained with languagebind train ({cfg.tuning} tuning from {cfg.init}), exported from {Path(run_dir).name}"
    card = CardInfo(results=run_results(run_dir), notes=[note])
    return save_checkpoint(out, run.model, cfg.modality, format, run.tokenizer, run.sources[cfg.modality], card)
