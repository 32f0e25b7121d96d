"""Checkpoints in and out of a ``LanguageBindModel``: what ``LanguageBind.from_pretrained`` / ``from_config`` /
``save_pretrained`` and the trainer share.

In: which directories, building the towers (on the meta device when weights follow), loading each checkpoint so
that towers share one text tower where their text weights agree, and the tokenizer that goes with the text
tower (``load_pretrained``, ``random_model``). Out: one modality's checkpoint in our format or the official one
(``save_checkpoint``), and a stable hash of it (``checkpoint_fingerprint``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from languagebind.errors import InputError
from languagebind.hub import CardInfo, HubOptions, hub_id_of, resolve_checkpoint, write_hub_files
from languagebind.model.checkpoint import TOKENIZER_FILES, load_single, read_config, save_official, save_ours
from languagebind.model.config import CheckpointConfig
from languagebind.model.core import LanguageBindModel, checkpoint_view, init_weights
from languagebind.model.text import HFTextTower, build_text_tower
from languagebind.precision import prepare_auto, resolve_device
from languagebind.processing import CLIPTokenizer
from languagebind.registry import is_modality, modality_names

PathLike = str | Path
Checkpoints = PathLike | Mapping[str, PathLike]
Configs = PathLike | CheckpointConfig | Mapping[str, PathLike | CheckpointConfig]
FORMATS = ("safetensors", "official")
PREPROCESSING_VERSION = "1"


@dataclass
class Pretrained:
    """A model, the tokenizer of its text tower, and the directory each tower came from (None: not from one)."""

    model: LanguageBindModel
    tokenizer: Any
    sources: dict[str, Path | None]


def load_pretrained(checkpoints: Checkpoints, device: str | torch.device | None = None, precision: str = "fp32",
                    geometry: Mapping[str, Mapping[str, Any]] | None = None, hub: HubOptions | None = None
                    ) -> Pretrained:
    """Checkpoint directories or Hub ids (official or ours; one, or ``{modality: dir}``) -> the model, on the CPU.

    Ids resolve through ``languagebind.hub`` (``hub``: cache, revision, token, offline). ``geometry`` optionally
    changes a tower's ``image_size`` / ``num_frames``; ``device`` and ``precision`` only let ``auto`` time its
    candidate modes before any weights exist (the caller applies the precision)."""
    dirs = checkpoint_dirs(checkpoints, hub)
    configs = {m: read_config(d, None if m == "_" else m) for m, d in dirs.items()}
    configs = {c.modality: c for c in configs.values()} if "_" in dirs else configs
    dirs = {c.modality: d for c, d in zip(configs.values(), dirs.values(), strict=True)}
    for m, changes in (geometry or {}).items():
        configs[m] = configs[m].with_geometry(**changes)
    prepare_precision(configs, device, precision)
    model = assemble(configs, meta=True)
    for modality, directory in dirs.items():
        load_into(model, modality, directory)
    first_dir = next(iter(dirs.values()))
    return Pretrained(model, default_tokenizer(model, first_dir), dict(dirs))


def random_model(configs: Configs, device: str | torch.device | None = None, precision: str = "fp32",
                 seed: int = 0) -> Pretrained:
    """The towers of ``configs`` (config files or ``CheckpointConfig``s) with random CLIP-style weights, seeded."""
    if isinstance(configs, (str, Path, CheckpointConfig)):
        configs = {"_": configs}
    parsed = {}
    for key, value in configs.items():
        cfg = value if isinstance(value, CheckpointConfig) else CheckpointConfig.from_file(value)
        if key != "_" and key != cfg.modality:
            raise InputError(key, f"the config is a {cfg.modality} config")
        parsed[cfg.modality] = cfg
    prepare_precision(parsed, device, precision)
    model = assemble(parsed, meta=False)
    generator = torch.Generator().manual_seed(seed)
    init_weights(model.towers, generator)
    if not isinstance(model.text, HFTextTower):
        init_weights(model.text, generator)
    return Pretrained(model, default_tokenizer(model, None), dict.fromkeys(parsed))


def checkpoint_dirs(checkpoints: Checkpoints, hub: HubOptions | None = None) -> dict[str, Path]:
    """One directory (``{"_": dir}``, modality read from its config) or ``{modality: directory}``, checked; Hub
    ids resolved to their cached snapshot (``languagebind.hub``)."""
    if isinstance(checkpoints, (str, Path)):
        return {"_": resolve_checkpoint(checkpoints, hub)}
    if not isinstance(checkpoints, Mapping) or not checkpoints:
        raise InputError(checkpoints, "give a checkpoint directory or a non-empty {modality: directory} mapping")
    for m in checkpoints:
        if not is_modality(m):
            raise InputError(m, f"unknown modality; known: {', '.join(modality_names())}")
    return {m: resolve_checkpoint(d, hub) for m, d in checkpoints.items()}


def prepare_precision(configs: dict[str, CheckpointConfig], device: str | torch.device | None, precision: str) -> None:
    """Before any weights exist: ``auto`` times its candidate modes for these towers' shape."""
    if precision == "auto":  # time the candidate modes while no weights are in memory
        prepare_auto([c.vision for c in configs.values()], resolve_device(device))


def assemble(configs: dict[str, CheckpointConfig], meta: bool) -> LanguageBindModel:
    """The towers of ``configs`` with one shared text tower; ``meta``: no memory until weights are loaded."""
    first = next(iter(configs.values()))
    text = build_text_tower(first.text) if first.text.kind != "clip" else None
    if not meta:
        return LanguageBindModel(configs, text)
    with torch.device("meta"):
        return LanguageBindModel(configs, text)


def load_into(model: LanguageBindModel, modality: str, directory: Path) -> None:
    """Load one checkpoint; its text weights go to the shared tower, or to its own if they differ."""
    config = model.configs[modality]
    view = checkpoint_view(model, modality)
    state = load_single(directory, view, config)
    text_state = {k[len("text."):]: v for k, v in state.items() if k.startswith("text.")}
    shared = model.text
    if text_state and not is_meta(shared):
        current = shared.state_dict()
        if not all(torch.equal(current[k], v) for k, v in text_state.items()):
            model.extra_text[modality] = build_text_tower(config.text).to_empty(device="cpu")
            model.extra_text[modality].load_state_dict(text_state, assign=True)
        state = {k: v for k, v in state.items() if not k.startswith("text.")}
        view = checkpoint_view(model, modality)
        del view.text
    view.load_state_dict(state, strict=True, assign=True)
    # assign=True replaces the Parameter objects: re-bind the logit scale held by the dict.
    model.logit_scales[modality] = view.logit_scale


def is_meta(module: nn.Module) -> bool:
    return any(p.is_meta for p in module.parameters())


def default_tokenizer(model: LanguageBindModel, directory: Path | None) -> Any:
    """The HF text tower's own tokenizer, else the CLIP tokenizer (from ``directory`` or the bundled vocabulary)."""
    if isinstance(model.text, HFTextTower):
        return model.text.tokenizer
    return CLIPTokenizer.from_dir(directory)


# -- out --------------------------------------------------------------------------------------------------
def save_checkpoint(directory: PathLike, model: LanguageBindModel, modality: str, format: str = "safetensors",
                    tokenizer: Any = None, source: PathLike | None = None, card: CardInfo | None = None) -> Path:
    """Write one modality's checkpoint: ``format`` "safetensors" (ours) or "official"; with the tokenizer files
    (copied from ``source`` when it has them, else written by ``tokenizer``), ``preprocessor_config.json`` and a
    model card (``card``; its base model defaults to the Hub id ``source`` was downloaded as)."""
    directory = Path(directory)
    config = model.configs[modality]
    state = {k: v.float() for k, v in checkpoint_view(model, modality).state_dict().items()}
    if format == "safetensors":
        save_ours(directory, config, state)
    elif format == "official":
        save_official(directory, config, state)
    else:
        raise InputError(format, f"format must be {' or '.join(repr(f) for f in FORMATS)}")
    write_tokenizer(directory, tokenizer if tokenizer is not None else default_tokenizer(model, None), source)
    card = card if card is not None else CardInfo()
    if card.base_model is None:
        card = dataclasses.replace(card, base_model=hub_id_of(source))
    write_hub_files(directory, config, card)
    return directory


def write_tokenizer(directory: Path, tokenizer: Any, source: PathLike | None) -> None:
    copied = False
    for name in TOKENIZER_FILES:
        if source is not None and (Path(source) / name).is_file():
            if (Path(source) / name).resolve() != (directory / name).resolve():  # not saving onto itself
                shutil.copyfile(Path(source) / name, directory / name)
            copied = True
    if not copied:
        tokenizer.save_pretrained(directory)


def checkpoint_fingerprint(model: LanguageBindModel, modality: str) -> str:
    """A stable hash of a tower, its text tower, its config and the preprocessing version."""
    digest = hashlib.sha256(PREPROCESSING_VERSION.encode())
    digest.update(json.dumps(model.configs[modality].to_dict(), sort_keys=True, default=str).encode())
    for key, value in sorted(checkpoint_view(model, modality).state_dict().items()):
        digest.update(key.encode())
        # the tensor's own buffer (no bytes copy: ``tobytes`` of the 49,408 x 768 token table held 150 MB more,
        # which the heap kept, on top of the whole fp32 model while ``auto`` builds its engine)
        digest.update(value.detach().float().cpu().contiguous().numpy())
    return digest.hexdigest()[:32]
