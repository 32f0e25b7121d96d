"""The official trainer's checkpoints (``RUN/checkpoints/epoch_N.pt``) -> a tower that loads like any checkpoint.

The official ``main.py`` saves, on rank 0 after every epoch, ``{"epoch", "name", "state_dict", "optimizer",
"scaler"}``; ``state_dict`` is its HF-``CLIPModel``-based model's, so its keys are the released checkpoints' names
(``text_model.*``, ``vision_model.*``, ``visual_projection.weight``, ``text_projection.weight``, ``logit_scale``;
peft's ``vision_model.encoder.base_model.model.*`` with LoRA), with DDP's ``module.`` in front when it trained
under DDP. The file carries no config: the tower's config comes from a base checkpoint (a directory or a Hub id:
the released checkpoint the run reproduces, or one of ours), whose text tower the run kept frozen (``--lock-text``)
and is checked against.

The file is read with ``torch.load(weights_only=True)`` (memory-mapped where the format allows, so the optimizer
state is not read into memory): a file that holds pickled objects other than tensors and plain values is refused.
"""

from __future__ import annotations

import dataclasses
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from languagebind.errors import CheckpointError, InputError
from languagebind.hub import HubOptions, resolve_checkpoint
from languagebind.model.checkpoint import _short, read_config, read_weights
from languagebind.model.config import CheckpointConfig, LoraConfig
from languagebind.model.convert import official_to_ours
from languagebind.model.core import checkpoint_view
from languagebind.model.lora import merge_lora
from languagebind.pretrained import Pretrained, assemble, default_tokenizer

DDP_PREFIX = "module."
LORA_MODES = ("merge", "keep")
TRAINER_LORA_ALPHA = 16.0  # the official trainer's --lora_alpha default; no released script sets it
_LORA_KEY = re.compile(r"\.(?P<target>\w+)\.lora_(?P<ab>[AB])$")


@dataclass
class ImportedCheckpoint:
    """The imported model and what was found: the run's ``epoch`` and ``name``, the base directory, whether the
    text tower was compared with the base's (``text_checked``), and the LoRA adapters (``lora``: None, or the
    config the run trained with; ``lora_merged``)."""

    pretrained: Pretrained
    modality: str
    epoch: int | None
    name: str | None
    base: Path
    text_checked: bool
    lora: LoraConfig | None
    lora_merged: bool


def read_trainer_checkpoint(path: str | Path) -> dict[str, Any]:
    """``epoch_N.pt`` -> its dict (``state_dict`` always present, as tensors), read with ``weights_only=True``.

    A bare state dict is accepted too (``{"state_dict": it}``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "no such file")
    try:
        try:
            data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as err:
            if "mmap" not in str(err):
                raise
            data = torch.load(path, map_location="cpu", weights_only=True)  # the legacy (non-zip) format
    except pickle.UnpicklingError as err:
        found = re.search(r"GLOBAL ([\w.]+)", str(err))
        if not found:  # not a pickle at all, or a damaged one
            raise CheckpointError(path, "cannot read it as a torch checkpoint (not a torch.save file, or damaged)"
                                  ) from err
        raise CheckpointError(path, f"refused: it holds pickled objects other than tensors and plain values "
                                    f"({found.group(1)}); only files that torch.load(weights_only=True) reads are "
                                    "imported") from err
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        raise CheckpointError(path, f"cannot read it as a torch checkpoint ({_one_line(err)})") from err
    if not isinstance(data, dict):
        raise CheckpointError(path, f"expected a dict with a state_dict, found a {type(data).__name__}")
    if "state_dict" not in data:
        if data and all(isinstance(v, torch.Tensor) for v in data.values()):
            data = {"state_dict": data}
        else:
            raise CheckpointError(path, "no 'state_dict' (keys: " + ", ".join(sorted(map(str, data))[:8]) + ")")
    state = data["state_dict"]
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(path, "'state_dict' is not a non-empty dict of tensors")
    return data


def strip_ddp_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove DDP's ``module.`` when every key has it (as DDP saves them)."""
    if all(k.startswith(DDP_PREFIX) for k in state):
        return {k[len(DDP_PREFIX):]: v for k, v in state.items()}
    return state


def trained_lora(state: dict[str, torch.Tensor], alpha: float) -> LoraConfig | None:
    """The adapters in a state dict (our names): rank from ``lora_A``'s shape, targets and temporal-only from
    the keys; ``alpha`` is not stored in the file."""
    found = {(m.group("target"), ".temporal." in key) for key in state if (m := _LORA_KEY.search(key))}
    if not found:
        return None
    ranks = {v.shape[0] for k, v in state.items() if k.endswith(".lora_A")}
    if len(ranks) != 1 or len({temporal for _, temporal in found}) != 1:
        raise CheckpointError("state_dict", f"LoRA adapters of mixed ranks {sorted(ranks)} or places; not a run of "
                                            "the official trainer")
    targets = tuple(t for t in ("q_proj", "k_proj", "v_proj", "out_proj") if t in {t for t, _ in found})
    return LoraConfig(r=ranks.pop(), alpha=alpha, targets=targets, temporal_only=next(iter(found))[1])


def import_official(checkpoint: str | Path, config: str | Path, lora: str = "merge", lora_alpha: float | None = None,
                    allow_text_change: bool = False, hub: HubOptions | None = None) -> ImportedCheckpoint:
    """The tower trained in ``checkpoint`` (an official ``epoch_N.pt``), configured as ``config`` (a checkpoint
    directory or Hub id of the same modality and geometry).

    ``lora``: "merge" folds the adapters into the weights (a plain tower, as the released checkpoints are used
    for inference) or "keep" keeps them (to continue LoRA tuning); ``lora_alpha``: the run's ``--lora_alpha``
    when it differs from the base config's (default: the base's, else the trainer's default 16).
    ``allow_text_change``: accept a text tower that differs from the base's (the official recipe freezes it)."""
    if lora not in LORA_MODES:
        raise InputError(lora, f"lora must be one of {', '.join(LORA_MODES)}")
    path = Path(checkpoint)
    data = read_trainer_checkpoint(path)
    base = resolve_checkpoint(config, hub)
    base_config = read_config(base)
    state, unknown = official_to_ours(strip_ddp_prefix(data["state_dict"]))
    if unknown:
        raise CheckpointError(path, "keys that do not belong to a LanguageBind model: " + _short(unknown)
                              + " (official names: see languagebind/model/convert.py)")
    base_lora = base_config.vision.lora
    alpha = lora_alpha if lora_alpha is not None else base_lora.alpha if base_lora else TRAINER_LORA_ALPHA
    adapters = trained_lora(state, alpha)
    if adapters is not None and base_lora is not None:
        adapters = dataclasses.replace(adapters, dropout=base_lora.dropout)
    cfg = dataclasses.replace(base_config, vision=dataclasses.replace(base_config.vision, lora=adapters))
    model = assemble({cfg.modality: cfg}, meta=True).eval()  # no memory until the run's weights are assigned
    view = checkpoint_view(model, cfg.modality)
    _check_keys_and_shapes(path, state, view.state_dict(), base)
    text_checked = _check_text(path, state, base, cfg, allow_text_change)
    view.load_state_dict(state, strict=True, assign=True)
    model.logit_scales[cfg.modality] = view.logit_scale
    merged = False
    if adapters is not None and lora == "merge":
        merge_lora(model.towers[cfg.modality].encoder)
        cfg = dataclasses.replace(cfg, vision=dataclasses.replace(cfg.vision, lora=None))
        model.configs[cfg.modality] = cfg
        model.towers[cfg.modality].config = cfg.vision
        merged = True
    epoch = data.get("epoch")
    name = data.get("name")
    pretrained = Pretrained(model, default_tokenizer(model, base), {cfg.modality: base})
    return ImportedCheckpoint(pretrained, cfg.modality, int(epoch) if isinstance(epoch, int) else None,
                              name if isinstance(name, str) else None, base, text_checked, adapters, merged)


def _check_keys_and_shapes(path: Path, state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor],
                           base: Path) -> None:
    missing, unexpected = set(expected) - set(state), set(state) - set(expected)
    problems = []
    if unexpected:
        problems.append(f"keys that do not belong to the base's {len(expected)}-key model: {_short(unexpected)}")
    if missing:
        problems.append(f"missing keys: {_short(missing)}")
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
              if k in state and state[k].shape != v.shape]
    if shapes:
        problems.append(f"shapes differ from the base config's: {_short(shapes, 4)}")
    if problems:
        raise CheckpointError(path, "; ".join(problems) + f" (our names; base config {base}: give the config the run "
                                                          "trained with)")


def _check_text(path: Path, state: dict[str, torch.Tensor], base: Path, config: CheckpointConfig,
                allow_change: bool) -> bool:
    """Compare the run's text tower with the base's (when the base has weights); True when compared."""
    try:
        raw, _ = read_weights(base)
    except CheckpointError:
        return False  # a config-only base: nothing to compare with
    base_state = official_to_ours(raw)[0] if any(k.startswith("text_model.") for k in raw) else raw
    base_text = {k: v for k, v in base_state.items() if k.startswith("text.")}
    if not base_text or config.text.kind != "clip":
        return False
    changed = [k for k, v in base_text.items()
               if k not in state or state[k].shape != v.shape or not torch.equal(state[k].to(v.dtype), v)]
    if changed and not allow_change:
        raise CheckpointError(path, f"its text tower differs from the base's ({base}) in {len(changed)} tensors "
                                    f"({_short(changed, 3)}); the official recipe freezes it (--lock-text), so this "
                                    "base is not the one the run started from. Pass allow_text_change=True "
                                    "(--allow-text-change) to keep the run's text tower")
    return True


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())[:200]
