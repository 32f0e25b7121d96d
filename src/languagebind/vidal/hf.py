"""Loading Hugging Face models for the stages: local directories only, quiet, offline.

Offline is per call (``local_files_only=True``), not process-wide: nothing here touches ``os.environ``, and
transformers' logging is quietened only while a model loads, then restored.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from languagebind.errors import ConfigError

PRECISIONS = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


@contextmanager
def quiet() -> Iterator[None]:
    """transformers' warnings and progress bars off for the duration; the caller's settings restored after."""
    from transformers.utils import logging

    verbosity, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        if bars:
            logging.enable_progress_bar()


def local_dir(path: str | Path | None, stage: str, marker: str = "config.json") -> Path:
    """``path`` when it is a directory holding ``marker``; a `ConfigError` naming the stage otherwise."""
    if not path:
        raise ConfigError(f"stage {stage}: no model directory given (option 'model')")
    directory = Path(path).expanduser()
    if not directory.is_dir():
        raise ConfigError(f"stage {stage}: model directory {str(directory)!r} does not exist "
                          "(models are only read from local directories; see docs/vidal-builder.md)")
    if marker and not (directory / marker).is_file():
        raise ConfigError(f"stage {stage}: {str(directory)!r} has no {marker}")
    return directory


def load_pretrained(loader: Any, path: Path, precision: str = "fp32", device: Any = "cpu") -> Any:
    """``loader.from_pretrained(path)`` from local files only, in ``precision``, moved to ``device``, in eval mode."""
    import torch

    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    with quiet():
        model = loader.from_pretrained(path, local_files_only=True, dtype=getattr(torch, PRECISIONS[precision]))
    return model.to(device).eval()


def load_processor(loader: Any, path: Path) -> Any:
    """``loader.from_pretrained(path)`` from local files only."""
    with quiet():
        return loader.from_pretrained(path, local_files_only=True)


def model_label(path: Path, config: Any) -> str:
    """A short, machine-independent name for a model: its directory name and model type."""
    return f"{path.name} ({getattr(config, 'model_type', 'unknown')})"


def groups_by_shape(images: Sequence[np.ndarray]) -> list[list[int]]:
    """Indices of ``images`` grouped by shape (first-seen order), so each group stacks into one batch."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for index, image in enumerate(images):
        groups.setdefault(image.shape, []).append(index)
    return list(groups.values())


def flatten_keyframes(samples: Sequence[Any]) -> tuple[list[np.ndarray], list[tuple[int, int]]]:
    """All keyframes of ``samples`` in one list, with (sample position, keyframe index) for each."""
    frames, owners = [], []
    for position, sample in enumerate(samples):
        for k, frame in enumerate(sample.fields["keyframes"]):
            frames.append(frame)
            owners.append((position, k))
    return frames, owners
