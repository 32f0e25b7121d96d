"""Readers for the point-cloud benchmarks: ModelNet40 in its two public layouts.

* ``modelnet40_normal_resampled/``: ``modelnet40_shape_names.txt`` (the 40 class folders, in label order),
  ``modelnet40_test.txt`` (ids such as ``airplane_0627``) and ``<class>/<id>.txt`` (10,000 lines of
  ``x,y,z,nx,ny,nz``);
* ``modelnet40_ply_hdf5_2048/``: ``ply_data_test0.h5``, ``ply_data_test1.h5`` (``data`` (N, 2048, 3) float32,
  ``label`` (N, 1)), ``shape_names.txt`` and, optionally, ``test_files.txt`` listing the files in order. One
  cloud of a file is the item ``ply_data_test0.h5#<index>`` (``processing/pointfiles.py`` reads it).

``--data`` may be either folder or a folder above them; when both layouts are there, the resampled one is read.
Class display names come from ``classnames/modelnet40.tsv`` (``flower_pot`` -> ``flower pot``); a name the table
does not know is shown with ``_`` read as a space.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from languagebind.errors import InputError
from languagebind.evaluation.datasets import ClassificationSet, read_lines
from languagebind.evaluation.prompts import class_table
from languagebind.processing.pointfiles import MEMBER_SEPARATOR

RESAMPLED_NAMES = "modelnet40_shape_names.txt"
RESAMPLED_TEST = "modelnet40_test.txt"
HDF5_NAMES = "shape_names.txt"
HDF5_PATTERN = "ply_data_test*.h5"


def read_modelnet40(root: Path) -> ClassificationSet:
    """ModelNet40's test split from either public layout (see the module docstring)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "the --data directory does not exist")
    test_lists = _below(root, RESAMPLED_TEST)
    if test_lists:
        return read_resampled(test_lists[0].parent)
    batches = _below(root, HDF5_PATTERN)
    if batches:
        return read_hdf5(batches[0].parent)
    raise InputError(root, f"neither ModelNet40 layout found: no {RESAMPLED_TEST} and no {HDF5_PATTERN} in this "
                           "directory or below")


def read_resampled(folder: Path) -> ClassificationSet:
    """``modelnet40_normal_resampled``: the ids of ``modelnet40_test.txt``, labelled by their class prefix."""
    names = _shape_names(folder / RESAMPLED_NAMES)
    index = {name: i for i, name in enumerate(names)}
    items, labels = [], []
    test_list = folder / RESAMPLED_TEST
    for line, shape_id in enumerate(read_lines(test_list), start=1):
        shape_class = shape_id.rsplit("_", 1)[0]
        if shape_class not in index:
            raise InputError(test_list, f"line {line}: {shape_id!r} is of no class in {RESAMPLED_NAMES}")
        items.append(folder / shape_class / f"{shape_id}.txt")
        labels.append(index[shape_class])
    if not items:
        raise InputError(test_list, "lists no shapes")
    return ClassificationSet(items, display_names(names), labels=labels)


def read_hdf5(folder: Path) -> ClassificationSet:
    """``modelnet40_ply_hdf5_2048``: every cloud of the test files, labelled by their ``label`` dataset."""
    import h5py

    names = _shape_names(folder / HDF5_NAMES)
    items, labels = [], []
    for path in _hdf5_files(folder):
        try:
            with h5py.File(path, "r") as handle:
                if "data" not in handle or "label" not in handle:
                    raise InputError(path, f"needs datasets 'data' and 'label' (found {', '.join(handle)})")
                count = handle["data"].shape[0]
                label = np.asarray(handle["label"]).reshape(-1)
        except InputError:
            raise
        except (OSError, KeyError, ValueError, TypeError) as err:
            raise InputError(path, f"cannot read as HDF5 ({err})") from err
        if label.shape[0] != count:
            raise InputError(path, f"{count} clouds but {label.shape[0]} labels")
        if label.dtype.kind not in "iu" or (count and (label.min() < 0 or label.max() >= len(names))):
            raise InputError(path, f"labels must be class indices 0..{len(names) - 1} of {HDF5_NAMES}")
        items.extend(path.with_name(f"{path.name}{MEMBER_SEPARATOR}{i}") for i in range(count))
        labels.extend(int(v) for v in label)
    if not items:
        raise InputError(folder, "the test files hold no clouds")
    return ClassificationSet(items, display_names(names), labels=labels)


def display_names(folders: list[str]) -> list[str]:
    """Class folder names -> prompt names (``classnames/modelnet40.tsv``, else ``_`` read as a space)."""
    table = dict(class_table("modelnet40"))
    return [table.get(name, name.replace("_", " ")) for name in folders]


def _shape_names(path: Path) -> list[str]:
    if not path.is_file():
        raise InputError(path, "the class list is missing")
    names = read_lines(path)
    if len(set(names)) != len(names) or not names:
        raise InputError(path, "the class list is empty or names a class twice")
    return names


def _hdf5_files(folder: Path) -> list[Path]:
    """The test files in ``test_files.txt`` order when it is there, else by their number."""
    listing = folder / "test_files.txt"
    if listing.is_file():
        files = [folder / Path(line).name for line in read_lines(listing)]
        missing = [str(f.name) for f in files if not f.is_file()]
        if missing:
            raise InputError(listing, f"lists files that are not in {folder}: {', '.join(missing)}")
        return files
    return sorted(folder.glob(HDF5_PATTERN), key=lambda p: [int(t) if t.isdigit() else t
                                                            for t in re.split(r"(\d+)", p.name)])


def _below(root: Path, pattern: str) -> list[Path]:
    """Files matching ``pattern`` directly in ``root``, else anywhere below it (sorted)."""
    direct = sorted(p for p in root.glob(pattern) if p.is_file())
    return direct or sorted(p for p in root.rglob(pattern) if p.is_file())
