"""Contrastive training of a modality tower against the frozen language tower (LoRA / partial / full), under
``torchrun`` or in one process, with exact resume and export. Entry points: ``train``, ``export_run``."""

from __future__ import annotations

from typing import Any

__all__ = ["TrainConfig", "TrainResult", "export_run", "load_run", "train"]


def __getattr__(name: str) -> Any:
    # Lazy: `languagebind.train.recipe` stays importable without the model stack.
    if name in ("train", "TrainResult"):
        from languagebind.train import loop

        return getattr(loop, name)
    if name in ("export_run", "load_run"):
        from languagebind.train import export

        return getattr(export, name)
    if name == "TrainConfig":
        from languagebind.train.recipe import TrainConfig

        return TrainConfig
    raise AttributeError(f"module 'languagebind.train' has no attribute {name!r}")
