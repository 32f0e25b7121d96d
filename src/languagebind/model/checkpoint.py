"""Read and write checkpoint directories: the official format and ours. Strict, with named keys.

* official: ``config.json`` (``model_type`` ``LanguageBind<M>``) + ``pytorch_model.bin`` (loaded with
  ``weights_only=True``) or ``model.safetensors``, official key names (peft LoRA spellings included),
  tokenizer files (``vocab.json``, ``merges.txt``, ...).
* ours: ``config.json`` (``"format": "languagebind"``) + ``model.safetensors`` with our key names.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterable
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from languagebind.errors import CheckpointError, ConfigError
from languagebind.model.config import CheckpointConfig, from_official, to_official
from languagebind.model.convert import official_to_ours, ours_to_official
from languagebind.model.resample import resample_frames, resample_positions, resize_patch_kernel
from languagebind.utils.io import atomic_write, write_json_atomic

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
TOKENIZER_FILES = ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json")


def read_config(path: str | Path, modality: str | None = None) -> CheckpointConfig:
    """The config of a checkpoint directory (ours, official, or an HF ``CLIPModel`` given ``modality``)."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(path, "no such directory")
    try:
        data = json.loads((path / "config.json").read_text())
    except FileNotFoundError as err:
        raise CheckpointError(path, "no config.json in the directory") from err
    except json.JSONDecodeError as err:
        raise CheckpointError(path, f"config.json is not valid JSON ({err})") from err
    try:
        if data.get("format") == "languagebind":
            config = CheckpointConfig.from_dict(data)
            if modality is not None and config.modality != modality:
                raise ConfigError(f"it is a {config.modality} checkpoint, not {modality}")
            return config
        return from_official(data, modality)
    except ConfigError as err:
        raise CheckpointError(path, str(err)) from err


def read_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], Path]:
    """The raw state dict of a checkpoint directory and the file it came from."""
    path = Path(path)
    for name in WEIGHT_FILES:
        file = path / name
        if not file.is_file():
            continue
        try:
            if name.endswith(".safetensors"):
                # safetensors views share one buffer at unaligned offsets, which sends matmuls down other
                # SIMD paths; own, aligned copies make results independent of the file format.
                return {k: v.clone() for k, v in load_file(file).items()}, file
            state = torch.load(file, map_location="cpu", weights_only=True)
        except (SafetensorError, RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError) as err:
            raise CheckpointError(file, f"cannot read weights ({err})") from err
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise CheckpointError(file, "not a state dict of tensors")
        return state, file
    raise CheckpointError(path, f"no weights: expected one of {', '.join(WEIGHT_FILES)}")


def _short(keys: Iterable[str], limit: int = 12) -> str:
    keys = sorted(keys)
    more = f" ... (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def fit_state(state: dict[str, torch.Tensor], module: nn.Module, source: Path,
              config: CheckpointConfig) -> dict[str, torch.Tensor]:
    """Check ``state`` (our names) against ``module``'s keys and shapes; resample geometry tables.

    Position tables, temporal embeddings and per-frame CLS tables are resampled (bicubic), patch kernels resized
    (pseudo-inverse, ``resize_patch_kernel``) when the module's geometry differs from the checkpoint's; any other
    difference is an error naming the keys.
    """
    expected = module.state_dict()
    missing, unexpected = set(expected) - set(state), set(state) - set(expected)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing keys: {_short(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_short(unexpected)}")
        raise CheckpointError(source, "; ".join(parts) + " (our names; see languagebind/model/convert.py)")
    out = {}
    grid = config.vision.grid
    for key, value in state.items():
        want = expected[key].shape
        if value.shape != want:
            value = _resample(key, value, want, grid)
            if value is None:
                raise CheckpointError(source, f"shape mismatch for {key}: checkpoint "
                                              f"{tuple(state[key].shape)}, model {tuple(want)}")
        out[key] = value
    return out


def _resample(key: str, value: torch.Tensor, want: torch.Size, grid: tuple[int, int]) -> torch.Tensor | None:
    if key.endswith("embeddings.position_embedding") and value.dim() == 2 and value.shape[1] == want[1]:
        old = _infer_grid(value.shape[0] - 1, grid)
        return resample_positions(value, old, grid) if old else None
    if (key.endswith("temporal.embedding") or key.endswith("embeddings.class_embedding")) and value.dim() == len(want):
        return resample_frames(value, want[-2]) if value.shape[-1] == want[-1] else None
    if key.endswith("embeddings.proj.weight") and value.shape[:-2] == want[:-2]:
        return resize_patch_kernel(value, (want[-2], want[-1]))
    return None


def _infer_grid(patches: int, target: tuple[int, int]) -> tuple[int, int] | None:
    """The grid of a stored table: square, or of the target's aspect ratio."""
    side = round(patches ** 0.5)
    if side * side == patches:
        return side, side
    for h in range(1, patches + 1):
        if patches % h == 0 and abs(h / (patches // h) - target[0] / target[1]) < 1e-6:
            return h, patches // h
    return None


def load_single(path: str | Path, module: nn.Module, config: CheckpointConfig) -> dict[str, torch.Tensor]:
    """Read a checkpoint dir into our names, fitted to ``module`` (keys ``logit_scale``, ``text.*``, ``vision.*``)."""
    raw, file = read_weights(path)
    if any(k.startswith(("text_model.", "vision_model.")) for k in raw):
        state, unknown = official_to_ours(raw)
        if unknown:
            raise CheckpointError(file, f"keys that match no official name: {_short(unknown)}")
    else:
        state = raw
    return fit_state(state, module, file, config)


def save_ours(directory: str | Path, config: CheckpointConfig, state: dict[str, torch.Tensor]) -> None:
    """Write our format: ``config.json`` + ``model.safetensors`` (atomic per file)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    with atomic_write(directory / "model.safetensors") as handle:
        handle.write(_safetensors_bytes(tensors))
    write_json_atomic(directory / "config.json", config.to_dict())


def _safetensors_bytes(tensors: dict[str, torch.Tensor]) -> bytes:
    from safetensors.torch import save

    return save(tensors, metadata={"format": "pt"})


def save_official(directory: str | Path, config: CheckpointConfig, state: dict[str, torch.Tensor],
                  safetensors: bool = False) -> None:
    """Write the official format (``pytorch_model.bin`` by default, as transformers 4.30 did)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    vis = config.vision
    official = ours_to_official(
        {k: v.detach().to("cpu").contiguous() for k, v in state.items()}, lora=vis.lora is not None,
        text_positions=config.text.context_length, vision_positions=vis.num_positions)
    if safetensors:
        with atomic_write(directory / "model.safetensors") as handle:
            handle.write(_safetensors_bytes(official))
    else:
        with atomic_write(directory / "pytorch_model.bin") as handle:
            torch.save(official, handle)
    write_json_atomic(directory / "config.json", to_official(config))

