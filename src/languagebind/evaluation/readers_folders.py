"""Readers for the class-folder benchmarks: infrared crops (LLVIP, FLIR v1/v2), depth scenes (NYU-D v2,
SUN-D), ImageNet-style image folders, and plain class folders of any modality (``read_class_folders``).

Layout: ``<data>[/val|/test]/<class folder>/<files>``. The folder -> class-name mapping and the class order
are the official ones, shipped in ``data/classnames/<table>.tsv``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from languagebind.errors import InputError
from languagebind.evaluation.datasets import (
    DEPTH_EXTENSIONS,
    IMAGE_EXTENSIONS,
    ClassificationSet,
    class_folder_items,
)
from languagebind.evaluation.prompts import class_table


def class_folder_reader(table: str, extensions: Sequence[str]) -> Callable[[Path], ClassificationSet]:
    """A reader for class folders named as in ``classnames/<table>.tsv``."""

    def read(root: Path) -> ClassificationSet:
        pairs = class_table(table)
        _, items, labels = class_folder_items(root, [key for key, _ in pairs], extensions)
        return ClassificationSet(items, [name for _, name in pairs], labels=labels)

    read.__name__ = f"read_{table}"
    read.__doc__ = f"Class folders of ``classnames/{table}.tsv`` with files ending in {', '.join(extensions)}."
    return read


def read_class_folders(root: Path, extensions: Sequence[str]) -> ClassificationSet:
    """Any class-folder set: every folder under ``root`` (or its ``val/`` / ``test/``) is a class, named after
    the folder (``_`` read as a space), classes in name order."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "the --data directory does not exist")
    candidates = [root / s for s in ("val", "test")] + [root]
    base = next((c for c in candidates if c.is_dir() and any(p.is_dir() for p in c.iterdir())), None)
    if base is None:
        raise InputError(root, "no class folders (one folder per class) found")
    folders = sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(folders) < 2:
        raise InputError(base, f"zero-shot classification needs at least two class folders, found {folders}")
    _, items, labels = class_folder_items(base, folders, extensions, splits=())
    return ClassificationSet(items, [name.replace("_", " ") for name in folders], labels=labels)


read_llvip = class_folder_reader("llvip", IMAGE_EXTENSIONS)
read_flir_v1 = class_folder_reader("flir_v1", IMAGE_EXTENSIONS)
read_flir_v2 = class_folder_reader("flir_v2", IMAGE_EXTENSIONS)
read_nyu_d = class_folder_reader("nyu_d", DEPTH_EXTENSIONS)
read_sun_d = class_folder_reader("sun_d", DEPTH_EXTENSIONS)
read_imagenet = class_folder_reader("imagenet", IMAGE_EXTENSIONS)
