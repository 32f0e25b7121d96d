"""The VIDAL builder: raw short videos -> keyframes, depth, infrared, audio, multi-view text -> training shards.

Entry points (imported lazily, so ``import languagebind.vidal`` stays light)::

    from languagebind.vidal import build, load_config, make_tiny_models
    make_tiny_models("tiny-models")
    build(load_config("configs/build/tiny.yaml", {"models_dir": "tiny-models"}), "videos/", "out/")

Layout: ``operators`` (the stage interface and the batch loop), ``stages_media``, ``depth``, ``thermal``
(+ ``munit``), ``captions``, ``polish``, ``pack`` (the stages), ``plan`` (the build config), ``inputs``,
``shards`` (output files, done markers, retry merge), ``runner`` + ``executors`` (local, Ray Data), ``builder``
(the run), ``summary`` (the run's tables), ``tiny_models``. VIDAL-mini, the synthetic generator, is
``languagebind.data.synthetic``. See docs/vidal-builder.md.
"""

from __future__ import annotations

from typing import Any

_LAZY = {"build": "languagebind.vidal.builder", "load_config": "languagebind.vidal.plan",
         "make_tiny_models": "languagebind.vidal.tiny_models"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'languagebind.vidal' has no attribute {name!r}")
