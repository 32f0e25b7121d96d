"""The built-in demo: train five small towers on VIDAL-mini against a frozen language tower, evaluate emergent
cross-modal alignment, write ``metrics.json``, ``report.html`` and a search index (see docs/demo.md)."""

from __future__ import annotations

from typing import Any

__all__ = ["DemoConfig", "DemoResult", "load_config", "run_demo"]


def __getattr__(name: str) -> Any:
    # Lazy: the CLI's argument parsing must not import torch.
    if name in ("DemoConfig", "load_config"):
        from languagebind.demo import presets

        return getattr(presets, name)
    if name in ("DemoResult", "run_demo"):
        from languagebind.demo import run

        return getattr(run, name)
    raise AttributeError(f"module 'languagebind.demo' has no attribute {name!r}")
