"""Training checkpoints: atomic directories, checked on read, the last K kept; nothing pickled.

``RUN/checkpoints/step-00000100/`` holds
* ``trainable.safetensors``: the trainable parameters (model names),
* ``optimizer.safetensors``: AdamW moments and step counts (``<name>/exp_avg``, ...),
* ``state.json``: step, data position, every rank's RNG states, the config, and the size and SHA-256 of the two
  tensor files (written last).

The directory is written under a temporary name (files fsynced), then renamed into place. ``find_resume`` takes
the newest directory whose ``state.json`` parses and whose files match their recorded size and hash; a truncated
or corrupt newest checkpoint is reported and the one before it used.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save

from languagebind.errors import CheckpointError
from languagebind.utils.io import atomic_write, fsync_dir, write_json_atomic

log = logging.getLogger(__name__)
TENSOR_FILES = ("trainable.safetensors", "optimizer.safetensors")
NAME = re.compile(r"^step-(\d{8})$")


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def save_checkpoint(run_dir: Path, step: int, trainable: dict[str, torch.Tensor],
                    optimizer: dict[str, torch.Tensor], state: dict[str, Any], keep: int) -> Path:
    """Write checkpoint ``step`` atomically and delete all but the newest ``keep``; returns its directory."""
    root = checkpoint_dir(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:08d}"
    tmp = root / f".tmp-step-{step:08d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    files = {}
    for name, tensors in zip(TENSOR_FILES, (trainable, optimizer), strict=True):
        data = save({k: v.detach().cpu().contiguous() for k, v in tensors.items()})
        with atomic_write(tmp / name) as handle:
            handle.write(data)
        files[name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    write_json_atomic(tmp / "state.json", {**state, "step": step, "files": files})
    if final.exists():  # a re-run of the same step (after a resume): replace it
        shutil.rmtree(final)
    os.replace(tmp, final)
    fsync_dir(root)
    for old in list_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    for stale in root.glob(".tmp-step-*"):
        shutil.rmtree(stale, ignore_errors=True)
    return final


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Checkpoint directories, oldest first."""
    root = checkpoint_dir(run_dir)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and NAME.match(p.name))


def validate(path: Path) -> dict[str, Any]:
    """The checkpoint's state if its files are complete and unmodified, else ``CheckpointError`` saying why."""
    try:
        state = json.loads((path / "state.json").read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(path, f"state.json unreadable ({err})") from err
    for name, expect in state.get("files", {}).items():
        file = path / name
        if not file.is_file():
            raise CheckpointError(path, f"{name} is missing")
        data = file.read_bytes()
        if len(data) != expect["size"] or hashlib.sha256(data).hexdigest() != expect["sha256"]:
            raise CheckpointError(path, f"{name} is truncated or corrupt ({len(data)} bytes, {expect['size']} "
                                        "expected, or a different hash)")
    if set(state.get("files", {})) != set(TENSOR_FILES):
        raise CheckpointError(path, "state.json does not list the tensor files")
    return state


def find_resume(run_dir: Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest valid checkpoint and its state (invalid newer ones are logged and skipped)."""
    for path in reversed(list_checkpoints(run_dir)):
        try:
            return path, validate(path)
        except CheckpointError as err:
            log.warning("skipping checkpoint: %s", err)
    return None


def load_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(trainable, optimizer) tensors of a validated checkpoint."""
    return load_file(path / TENSOR_FILES[0]), load_file(path / TENSOR_FILES[1])


# -- optimizer state <-> named tensors ------------------------------------------------------------------
def optimizer_tensors(optimizer: torch.optim.Optimizer, names: dict[int, str]) -> dict[str, torch.Tensor]:
    """AdamW state as ``{"<param name>/<key>": tensor}`` (``names``: ``id(param) -> name``)."""
    out = {}
    for param, state in optimizer.state.items():
        for key, value in state.items():
            out[f"{names[id(param)]}/{key}"] = value if isinstance(value, torch.Tensor) else torch.tensor(value)
    return out


def load_optimizer_tensors(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                           params: dict[str, torch.nn.Parameter]) -> None:
    """Restore the state written by ``optimizer_tensors``; the parameter names must match."""
    by_param: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        name, _, field = key.rpartition("/")
        by_param.setdefault(name, {})[field] = value
    unknown = set(by_param) - set(params)
    if unknown:
        raise CheckpointError("optimizer.safetensors", f"state for unknown parameters {sorted(unknown)[:5]}")
    for name, fields in by_param.items():
        param = params[name]
        optimizer.state[param] = {k: v.to(param.device) if k != "step" else v for k, v in fields.items()}


# -- RNG states as JSON ---------------------------------------------------------------------------------
def rng_state() -> dict[str, Any]:
    """Python, numpy and torch (CPU and CUDA) generator states, JSON-able."""
    py = random.getstate()
    np_state = np.random.get_state()
    state = {"python": [py[0], list(py[1]), py[2]],
             "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
             "torch": _b64(torch.get_rng_state())}
    if torch.cuda.is_available():
        state["cuda"] = [_b64(s) for s in torch.cuda.get_rng_state_all()]
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, *rest = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), *rest))
    torch.set_rng_state(_unb64(state["torch"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([_unb64(s) for s in state["cuda"]])


def _b64(tensor: torch.Tensor) -> str:
    return base64.b64encode(tensor.cpu().numpy().tobytes()).decode()


def _unb64(text: str) -> torch.Tensor:
    return torch.frombuffer(bytearray(base64.b64decode(text)), dtype=torch.uint8)
