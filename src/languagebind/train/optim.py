"""What trains, with which learning rate and weight decay, and the schedule.

Tuning modes (names are parameters of one ``VisionTower``):

* ``lora``: the LoRA adapters + ``class_embedding`` + ``post_layernorm`` + ``projection`` (+ for video the
  temporal embedding and norm): the official LoRA scripts' trainable set (position embeddings stay frozen);
* ``attention``: what the official "FT" scripts train: temporal attention for video, self-attention otherwise,
  plus ``class_embedding``, ``post_layernorm``, ``projection``;
* ``partial``: the last ``partial_layers`` encoder layers, ``pre_layrnorm``, ``post_layernorm``,
  ``class_embedding``, ``projection``;
* ``full``: every tower parameter.

The learnable temperature trains when ``learn_temp``. The text tower never trains. Key biases (``k_proj.bias``)
never train: their gradient is exactly zero (a query's softmax does not change when all its key scores shift by
``q . b``), and Adam would turn the float noise in it into learning-rate-sized random steps.

Learning rates really apply per group (the official scheduler overwrote every group with the base rate, making
``--coef-lr`` a no-op): each group keeps an ``lr_mult`` and the schedule sets ``lr = base(step) * lr_mult``.
"""

from __future__ import annotations

import fnmatch
import math
from typing import Any

import torch
from torch import nn

from languagebind.model.core import LanguageBindModel
from languagebind.train.recipe import TrainConfig

HEAD = ("embeddings.class_embedding", "post_layernorm.", "projection.")
NO_DECAY_WORDS = ("bias", "norm", "embedding", "logit_scale", "embeddings.proj")


def tower_trainable(name: str, tuning: str, layers: int, partial_layers: int, temporal: bool) -> bool:
    """Whether tower parameter ``name`` trains in ``tuning`` mode."""
    if name.endswith("k_proj.bias"):
        return False  # softmax ignores a shift of every key's score: zero gradient; Adam would only amplify noise
    if tuning == "full":
        return True
    head = name.startswith(HEAD)
    if tuning == "lora":
        return head or ".lora_" in name or (temporal and (".temporal.embedding" in name or ".temporal.norm." in name))
    if tuning == "attention":
        return head or (".temporal." in name if temporal else ".self_attn." in name)
    if tuning == "partial":
        first = layers - partial_layers
        in_last = any(name.startswith(f"encoder.layers.{i}.") for i in range(max(first, 0), layers))
        return head or in_last or name.startswith("pre_layrnorm.")
    raise ValueError(f"unknown tuning mode {tuning!r}")


def select_trainable(model: LanguageBindModel, cfg: TrainConfig) -> dict[str, nn.Parameter]:
    """Freeze everything, then unfreeze ``cfg.tuning``'s set of the trained tower (minus parameters whose lr
    multiplier is 0) and the temperature; returns them by model name."""
    model.requires_grad_(False)
    tower = model.towers[cfg.modality]
    layers = len(tower.encoder.layers)
    trainable: dict[str, nn.Parameter] = {}
    for name, param in tower.named_parameters():
        if tower_trainable(name, cfg.tuning, layers, cfg.partial_layers, tower.config.temporal):
            param.requires_grad_(True)
            trainable[f"towers.{cfg.modality}.{name}"] = param
    if cfg.learn_temp:
        scale = model.logit_scales[cfg.modality]
        scale.requires_grad_(True)
        trainable[f"logit_scales.{cfg.modality}"] = scale
    for name in [n for n in trainable if lr_multiplier(n, cfg) == 0]:  # a multiplier of 0 freezes
        trainable.pop(name).requires_grad_(False)
    if not trainable:
        raise ValueError(f"tuning {cfg.tuning!r} leaves nothing to train")
    return trainable


def lr_multiplier(name: str, cfg: TrainConfig) -> float:
    """``lr_multipliers`` globs (first match), else ``coef_lr`` for non-LoRA parameters in LoRA mode, else 1."""
    for pattern, mult in cfg.lr_multipliers.items():
        if fnmatch.fnmatchcase(name, pattern):
            return float(mult)
    if cfg.tuning == "lora" and ".lora_" not in name:
        return cfg.coef_lr
    return 1.0


def decays(name: str, param: torch.Tensor) -> bool:
    """Weight decay for matrices only: not biases, norms, embeddings (class, position, temporal, patch), scales."""
    return param.ndim >= 2 and not any(word in name for word in NO_DECAY_WORDS)


def param_groups(trainable: dict[str, nn.Parameter], cfg: TrainConfig) -> list[dict[str, Any]]:
    """AdamW groups keyed by (lr multiplier, decay); each keeps ``names`` and ``lr_mult``."""
    groups: dict[tuple[float, bool], dict[str, Any]] = {}
    for name, param in trainable.items():
        key = (lr_multiplier(name, cfg), decays(name, param))
        group = groups.setdefault(key, {"params": [], "names": [], "lr_mult": key[0],
                                        "weight_decay": cfg.weight_decay if key[1] else 0.0})
        group["params"].append(param)
        group["names"].append(name)
    return list(groups.values())


def build_optimizer(trainable: dict[str, nn.Parameter], cfg: TrainConfig) -> torch.optim.AdamW:
    return torch.optim.AdamW(param_groups(trainable, cfg), lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps)


def scheduled_lr(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up ``lr * (step + 1) / warmup``, then cosine to ``min_lr_ratio * lr`` at ``max_steps``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.max_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def set_lr(optimizer: torch.optim.Optimizer, step: int, cfg: TrainConfig) -> float:
    """Apply the schedule to every group (times its multiplier); returns the base rate."""
    base = scheduled_lr(step, cfg)
    for group in optimizer.param_groups:
        group["lr"] = base * group["lr_mult"]
    return base


@torch.no_grad()
def clamp_temperature(model: LanguageBindModel, modality: str, max_scale: float) -> None:
    """Keep the log scale in ``[0, ln max_scale]`` (official: clamped at ln 100 after every step)."""
    model.logit_scales[modality].clamp_(0, math.log(max_scale))
