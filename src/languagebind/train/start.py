"""Model set-up for training: the starting model (a ``LanguageBindModel`` and its tokenizer), the frozen text
side, the tower wrapped for training.

``init`` is one of:
* a Hugging Face ``CLIPModel`` directory or Hub id (the official recipe starts from OpenCLIP ViT-L/14 DataComp in that
  format): the tower is initialised as the official recipe does (``languagebind.model.init``);
* a LanguageBind checkpoint directory or Hub id (official or ours): of the trained modality, it is loaded as it is
  (its LoRA, if any, merged) and new adapters are added for LoRA tuning; of another modality (one whose spec allows
  it: ``can_start_from``), its weights start the tower as a CLIP would;
* ``random:<preset>``: random CLIP-style weights (``tiny``, ``vit_b16``, ``vit_l14``), for tests and benchmarks.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from languagebind.errors import ConfigError
from languagebind.hub import resolve_checkpoint
from languagebind.model.checkpoint import read_config
from languagebind.model.config import CheckpointConfig, LoraConfig, TextConfig
from languagebind.model.core import LanguageBindModel
from languagebind.model.init import config_from_clip, init_from_clip
from languagebind.model.lora import apply_lora, merge_lora
from languagebind.model.presets import CLIP_L14_TEXT, VIT_B16, VIT_L14, tiny_config
from languagebind.model.text import HFTextTower
from languagebind.model.vision import VisionTower
from languagebind.precision import apply_precision
from languagebind.pretrained import Pretrained, load_pretrained, random_model, save_checkpoint
from languagebind.processing import CLIPTokenizer
from languagebind.registry import PATCHES, get_modality
from languagebind.train.recipe import TrainConfig

RANDOM_PRESETS = ("tiny", "vit_b16", "vit_l14")


def lora_config(cfg: TrainConfig, temporal: bool) -> LoraConfig | None:
    """The adapters of LoRA tuning; on video only the temporal attention, as the official recipe."""
    if cfg.tuning != "lora":
        return None
    return LoraConfig(r=cfg.lora_r, alpha=cfg.lora_alpha, dropout=cfg.lora_dropout,
                      targets=tuple(cfg.lora_targets), temporal_only=temporal)


def starting_model(cfg: TrainConfig) -> Pretrained:
    """The starting model (CPU, fp32) for ``cfg.init``; random parts are seeded by ``cfg.seed``."""
    torch.manual_seed(cfg.seed)
    start = _starting_model(cfg)
    apply_precision(start.model, "fp32", torch.device("cpu"))
    return start


def _starting_model(cfg: TrainConfig) -> Pretrained:
    m = cfg.modality
    if cfg.init.startswith("random:"):
        config = random_config(cfg.init.split(":", 1)[1], m)
        config = _with_lora(config, lora_config(cfg, config.vision.temporal))
        return random_model(config, device="cpu", seed=cfg.seed)
    directory = resolve_checkpoint(cfg.init)  # a directory, or a Hub id fetched into / read from the HF cache
    if not (directory / "config.json").is_file():
        raise ConfigError(f"init {directory}: not a checkpoint directory (no config.json)")
    if json.loads((directory / "config.json").read_text()).get("model_type") == "clip":
        if get_modality(m).start != "clip":
            raise ConfigError(f"init {directory}: a {m} tower starts from {starts_from(m)}, not from CLIP")
        return _from_clip(cfg, directory, directory, hf_clip=True)
    source = read_config(directory)
    if source.modality == m:
        loaded = load_pretrained({m: directory}, device="cpu", precision="fp32",
                                 geometry={m: vision_geometry(cfg.vision)} if cfg.vision else None)
        model = loaded.model
        tower = model.towers[m]
        merge_lora(tower.encoder)
        lora = lora_config(cfg, tower.config.temporal)
        if lora is not None:
            apply_lora(tower.encoder, lora)
        _set_config(model, m, _with_lora(model.configs[m], lora))
        return loaded
    if not can_start_from(m, source.modality):
        raise ConfigError(f"init {directory}: a {source.modality} checkpoint cannot start a {m} tower (their "
                          f"inputs differ); start it from {starts_from(m)} instead")
    if source.vision.lora is None:
        return _from_clip(cfg, directory, directory)
    with tempfile.TemporaryDirectory(prefix="languagebind-init-") as scratch:  # fold its LoRA in first
        merged = load_pretrained(directory, device="cpu", precision="fp32")
        merged_for_export(merged.model, source.modality)
        save_checkpoint(scratch, merged.model, source.modality, "official", merged.tokenizer,
                        merged.sources[source.modality])
        return _from_clip(cfg, Path(scratch), directory)


def can_start_from(modality: str, source: str) -> bool:
    """Whether a trained ``source`` tower can start a ``modality`` tower: the spec says so (``tower:SOURCE``), or
    both take the same kind of still input through 2-D patches (pictures, depth maps, ...)."""
    spec, other = get_modality(modality), get_modality(source)
    if spec.start == f"tower:{source}":
        return True
    return (spec.start == "clip" and not spec.clip and not other.clip and spec.tokens == other.tokens == PATCHES
            and spec.item_shape == other.item_shape)


def starts_from(modality: str) -> str:
    """In words, what a ``modality`` tower starts from (its spec's ``start``)."""
    start = get_modality(modality).start
    if start == "scratch":
        return "random weights (init: random:<preset>)"
    if start.startswith("tower:"):
        return f"a trained {start.split(':', 1)[1]} checkpoint"
    return "a CLIP (HF CLIPModel) directory"


def _from_clip(cfg: TrainConfig, weights: Path, origin: Path, hf_clip: bool = False) -> Pretrained:
    """A tower started the official way from the CLIP-like checkpoint ``weights`` (``origin``: for tokenizer files).

    ``vision`` fields shape a tower made from an HF CLIPModel; a LanguageBind source keeps its geometry unless
    they change it."""
    m = cfg.modality
    if hf_clip:
        config = config_from_clip(weights, m, **cfg.vision)
    else:
        config = config_from_clip(weights, m)
        if cfg.vision:
            config = config.with_geometry(**vision_geometry(cfg.vision))
    config = _with_lora(config, lora_config(cfg, config.vision.temporal))
    model = LanguageBindModel({m: config})
    init_from_clip(model, m, weights)
    return Pretrained(model, CLIPTokenizer.from_dir(origin), {m: origin})


def vision_geometry(fields: dict[str, Any]) -> dict[str, Any]:
    """Official ``vision_config`` fields -> ``VisionConfig`` changes (for a LanguageBind checkpoint)."""
    names = {"num_frames": "num_frames", "max_depth": "max_depth", "image_size": "image_size",
             "audio_sample_rate": "sample_rate", "audio_mean": "audio_mean", "audio_std": "audio_std"}
    unknown = set(fields) - set(names) - {"num_mel_bins", "target_length"}
    if unknown:
        raise ConfigError(f"vision fields {sorted(unknown)} cannot change a LanguageBind checkpoint's tower")
    out = {names[k]: v for k, v in fields.items() if k in names}
    if "num_mel_bins" in fields or "target_length" in fields:
        out["image_size"] = (int(fields["num_mel_bins"]), int(fields["target_length"]))
    return out


def random_config(preset: str, modality: str) -> CheckpointConfig:
    """``tiny`` (the test geometry) or a full-size tower (ViT-B/16 or ViT-L/14 with the CLIP-L text tower)."""
    if preset == "tiny":
        return tiny_config(modality)
    if preset not in RANDOM_PRESETS:
        raise ConfigError(f"unknown random preset {preset!r}; known: {', '.join(RANDOM_PRESETS)}")
    vision = VIT_B16 if preset == "vit_b16" else VIT_L14
    text = TextConfig(transformer=CLIP_L14_TEXT, projection_dim=768)
    spec = get_modality(modality)
    if spec.tokens == PATCHES:  # the released geometry, cut to a multiple of the patch
        patch = 16 if preset == "vit_b16" else 14
        h, w = spec.released.get("image_size", (224, 224))
        base = tiny_config(modality, vision=vision, patch_size=patch, projection_dim=768,
                           image_size=(h // patch * patch, w // patch * patch),
                           num_frames=int(spec.released.get("num_frames", 8)), text=text)
    else:  # the modality's own token module keeps its tiny geometry
        base = tiny_config(modality, vision=vision, projection_dim=768, text=text)
    return dataclasses.replace(base, logit_scale_init=2.6592)


def _with_lora(config: CheckpointConfig, lora: LoraConfig | None) -> CheckpointConfig:
    return dataclasses.replace(config, vision=dataclasses.replace(config.vision, lora=lora))


def _set_config(model: LanguageBindModel, modality: str, config: CheckpointConfig) -> None:
    """Change a tower's config (its LoRA), on the model and on the tower alike."""
    model.configs[modality] = config
    model.towers[modality].config = config.vision


def merged_for_export(model: LanguageBindModel, modality: str) -> None:
    """Fold LoRA adapters into the base weights and drop them from the config (in place)."""
    merge_lora(model.towers[modality].encoder)
    _set_config(model, modality, _with_lora(model.configs[modality], None))


def frozen_fingerprint(model: nn.Module) -> str:
    """A hash of every parameter that does not train (the text tower and the frozen tower weights)."""
    digest = hashlib.sha256()
    for name, param in sorted(model.named_parameters()):
        if not param.requires_grad:
            digest.update(name.encode())
            digest.update(param.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:32]


class TrainingTower(nn.Module):
    """A tower as trained: the tower's stages with patch dropout between embedding and encoder.

    Patch dropout (official ``PatchDropout``): in training, keep ``int(N * (1 - p))`` random patch tokens plus
    CLS, the same ones in every frame of a clip. The choice is drawn from each sample's own seed, so it does
    not depend on which process or batch the sample lands in.
    """

    def __init__(self, tower: VisionTower, patch_dropout: float = 0.0) -> None:
        super().__init__()
        self.tower = tower
        self.patch_dropout = patch_dropout

    def forward(self, pixels: torch.Tensor, seeds: torch.Tensor) -> torch.Tensor:
        """(B, ...) pixels, (B,) int64 seeds -> (B, P) L2-normalised float32 features."""
        tokens, frames = self.tower.embed(pixels)
        if self.training and self.patch_dropout > 0:
            tokens = drop_patches(tokens, frames, self.patch_dropout, seeds)
        hidden = self.tower.encode(tokens, frames)
        features = self.tower.project(self.tower.pool(hidden, frames))
        return F.normalize(features.float(), dim=-1)


def drop_patches(tokens: torch.Tensor, frames: int, p: float, seeds: torch.Tensor) -> torch.Tensor:
    """(B*T, 1+N, D) -> (B*T, 1+K, D), K = int(N * (1 - p)): CLS kept, K random patches per clip in patch order."""
    patches = tokens.shape[1] - 1
    keep = max(1, int(patches * (1 - p)))
    rows = []
    for seed in seeds.tolist():
        noise = torch.rand(patches, generator=torch.Generator().manual_seed(int(seed)))
        rows.append(noise.topk(keep).indices.sort().values)
    index = torch.stack(rows).repeat_interleave(frames, dim=0).to(tokens.device) + 1  # (B*T, K)
    kept = tokens.gather(1, index.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))
    return torch.cat([tokens[:, :1], kept], dim=1)


class HFTokenize:
    """A picklable tokenizer call for a Hugging Face text tower (DataLoader workers tokenize)."""

    def __init__(self, tokenizer: object, length: int) -> None:
        self.tokenizer, self.length = tokenizer, length

    def __call__(self, texts: list[str]) -> dict[str, torch.Tensor]:
        enc = self.tokenizer(texts, padding="max_length", truncation=True, max_length=self.length,
                             return_tensors="pt")
        return {"input_ids": enc["input_ids"].long(), "attention_mask": enc["attention_mask"].long()}


def make_tokenizer(start: Pretrained) -> object:
    """The text tower's tokenizer as a picklable callable ``texts -> {"input_ids", "attention_mask"}``."""
    text = start.model.text
    if isinstance(text, HFTextTower):
        return HFTokenize(text.tokenizer, text.config.context_length)
    return start.tokenizer
