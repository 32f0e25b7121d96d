"""Model configuration: small frozen dataclasses, parsed from and emitted to the official ``config.json``.

One official checkpoint = the frozen CLIP text tower + one modality tower. Its ``config.json`` has ``model_type``
(``LanguageBindImage``, ...: each modality's spec declares its own), a ``text_config`` (HF ``CLIPTextConfig``)
and a ``vision_config`` (HF ``CLIPVisionConfig`` plus LanguageBind's fields). Absent fields take the
official code's defaults, including its surprising ones (``hidden_act`` ``quick_gelu``, ``lora_r`` 2).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from languagebind.constants import AUDIO_MEAN, AUDIO_STD
from languagebind.errors import ConfigError
from languagebind.registry import PATCHES, by_model_type, get_modality, is_modality, modality_names

ACTIVATIONS = ("gelu", "quick_gelu")

# Defaults of HF CLIPTextConfig / CLIPVisionConfig / CLIPConfig (transformers 4.30) and LanguageBind's
# additions (languagebind/*/configuration_*.py), used when a field is absent from config.json.
_TEXT_DEFAULTS = {"vocab_size": 49408, "hidden_size": 512, "intermediate_size": 2048, "num_hidden_layers": 12,
                  "num_attention_heads": 8, "max_position_embeddings": 77, "hidden_act": "quick_gelu",
                  "layer_norm_eps": 1e-5}
_VISION_DEFAULTS = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                    "num_attention_heads": 12, "num_channels": 3, "image_size": 224, "patch_size": 32,
                    "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5, "lora_r": 2, "lora_alpha": 16,
                    "lora_dropout": 0.0, "num_frames": 1, "add_time_attn": False, "max_depth": 10,
                    "num_mel_bins": 0, "target_length": 0, "audio_sample_rate": 16000, "audio_mean": 0.5,
                    "audio_std": 0.5, "tube_size": 1, "clip_type": ""}


@dataclass(frozen=True)
class TransformerConfig:
    """Sizes of the shared pre-LN transformer."""

    width: int
    layers: int
    heads: int
    mlp_dim: int
    act: str = "gelu"
    eps: float = 1e-5

    def __post_init__(self) -> None:
        if self.act not in ACTIVATIONS:
            raise ConfigError(f"hidden_act {self.act!r} is not supported; use one of {ACTIVATIONS}")
        if self.width % self.heads:
            raise ConfigError(f"width {self.width} is not divisible by {self.heads} heads")


@dataclass(frozen=True)
class LoraConfig:
    """LoRA adapters (peft-style): ``y = W x + b + B A dropout(x) * alpha / r``."""

    r: int
    alpha: float = 16.0
    dropout: float = 0.0
    targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "out_proj")
    temporal_only: bool = False  # the official video recipe adapts only the temporal attention

    @property
    def scaling(self) -> float:
        return self.alpha / self.r


@dataclass(frozen=True)
class TextConfig:
    """The language tower: the CLIP text transformer (``kind="clip"``) or a frozen HF sentence encoder."""

    transformer: TransformerConfig | None
    projection_dim: int
    kind: str = "clip"
    vocab_size: int = 49408
    context_length: int = 77
    hf_path: str | None = None  # kind == "hf": a local Hugging Face model directory


@dataclass(frozen=True)
class VisionConfig:
    """A modality tower: patch geometry, optional temporal layers, and the processor constants.

    ``options``: settings of the modality's own token module or processor that the fields here do not cover."""

    modality: str
    transformer: TransformerConfig
    projection_dim: int
    patch_size: int = 14
    image_size: tuple[int, int] = (224, 224)  # audio: (mel bins, target length)
    num_channels: int = 3
    num_frames: int = 1
    temporal: bool = False  # per-layer temporal embedding + attention over frames
    tube_size: int = 0  # 0: 2-D patches, one CLS; >= 1: 3-D tube patches, one CLS per frame (Video V1.5)
    lora: LoraConfig | None = None
    max_depth: float = 10.0
    sample_rate: int = 16000
    audio_mean: float = AUDIO_MEAN
    audio_std: float = AUDIO_STD
    options: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        spec = get_modality(self.modality)  # ConfigError naming the known ones
        object.__setattr__(self, "options", dict(self.options))
        if spec.tokens != PATCHES:
            return  # another token module checks its own geometry
        h, w = self.image_size
        if h % self.patch_size or w % self.patch_size:
            raise ConfigError(f"image size {self.image_size} is not a multiple of patch {self.patch_size}")
        if self.tube_size and not self.temporal:
            raise ConfigError("3-D tube patches need temporal layers (add_time_attn)")
        if self.tube_size > 1 and self.num_frames % self.tube_size:
            raise ConfigError(f"num_frames {self.num_frames} is not a multiple of tube_size {self.tube_size}")

    @property
    def grid(self) -> tuple[int, int]:
        return self.image_size[0] // self.patch_size, self.image_size[1] // self.patch_size

    @property
    def num_positions(self) -> int:
        gh, gw = self.grid
        return gh * gw + 1

    @property
    def frames_per_input(self) -> int:
        """Frames the tower sees per item (1 unless the modality's items are clips)."""
        return self.num_frames if get_modality(self.modality).clip else 1

    def processor_fields(self) -> dict[str, Any]:
        """The ``ProcessorConfig`` fields this tower fixes: ``ProcessorConfig(**vision.processor_fields())``
        (geometry from the tower, the rest from its checkpoint)."""
        hook = get_modality(self.modality).resolve("processor_fields")
        if hook is not None:
            return dict(hook(self))
        return {"image_size": self.image_size[0], "num_frames": self.num_frames, "max_depth": self.max_depth,
                "sample_rate": self.sample_rate, "audio_mean": self.audio_mean, "audio_std": self.audio_std,
                "options": dict(self.options)}


@dataclass(frozen=True)
class CheckpointConfig:
    """One checkpoint: a text tower and one modality tower projected into a shared space."""

    vision: VisionConfig
    text: TextConfig
    logit_scale_init: float = 2.6592
    official: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def modality(self) -> str:
        return self.vision.modality

    def with_geometry(self, **changes: Any) -> CheckpointConfig:
        """A copy with other vision geometry (``image_size``, ``num_frames``, ...); weights get resampled."""
        unknown = set(changes) - {f.name for f in fields(VisionConfig)}
        if unknown:
            raise ConfigError(f"unknown vision fields {sorted(unknown)}")
        if "image_size" in changes:
            changes["image_size"] = _pair(changes["image_size"])
        return replace(self, vision=replace(self.vision, **changes))

    # -- our format ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Our ``config.json``: ``{"format": "languagebind", ...}`` (round-trips through ``from_dict``)."""
        data = {"format": "languagebind", "version": 1, "modality": self.modality,
                "logit_scale_init": self.logit_scale_init, "text": asdict(self.text),
                "vision": asdict(self.vision)}
        if self.official:
            data["official"] = self.official
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckpointConfig:
        """Parse our format or the official/HF one (dispatching on the keys present)."""
        if data.get("format") == "languagebind":
            return _from_ours(data)
        return from_official(data)

    @classmethod
    def from_file(cls, path: str | Path) -> CheckpointConfig:
        path = Path(path)
        if path.is_dir():
            path = path / "config.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError as err:
            raise ConfigError(f"{path}: no such config file") from err
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path}: not valid JSON ({err})") from err
        try:
            return cls.from_dict(data)
        except ConfigError as err:
            raise ConfigError(f"{path}: {err}") from err


def _spectrogram(modality: str) -> bool:
    """The official format stores this tower's (mel bins, target length) instead of its image size."""
    return "num_mel_bins" in get_modality(modality).clip_fields


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ConfigError(f"image_size {value!r} must be an int or a pair")
        return int(value[0]), int(value[1])
    return int(value), int(value)


def _transformer(cfg: dict[str, Any]) -> TransformerConfig:
    return TransformerConfig(width=int(cfg["hidden_size"]), layers=int(cfg["num_hidden_layers"]),
                             heads=int(cfg["num_attention_heads"]), mlp_dim=int(cfg["intermediate_size"]),
                             act=str(cfg["hidden_act"]), eps=float(cfg["layer_norm_eps"]))


def from_official(data: dict[str, Any], modality: str | None = None) -> CheckpointConfig:
    """Parse an official LanguageBind ``config.json`` (or an HF ``CLIPModel`` one, given ``modality``)."""
    model_type = data.get("model_type")
    official = by_model_type(model_type)
    if official is not None:
        found = official.name
        if modality is not None and modality != found:
            raise ConfigError(f"model_type {model_type} is a {found} checkpoint, not {modality}")
        modality = found
    elif model_type == "clip" and modality is not None:
        pass  # an HF CLIPModel used to initialise a tower
    else:
        known = sorted(s.model_type for s in map(get_modality, modality_names()) if s.model_type)
        raise ConfigError(f"unknown model_type {model_type!r}; expected one of {known}")
    if not is_modality(modality):
        raise ConfigError(f"unknown modality {modality!r}")
    spec = get_modality(modality)
    text_cfg = {**_TEXT_DEFAULTS, **data.get("text_config", {})}
    vis = {**_VISION_DEFAULTS, **data.get("vision_config", {})}
    projection_dim = int(data.get("projection_dim", 512))
    if _spectrogram(spec.name):
        if not (vis["num_mel_bins"] and vis["target_length"]):
            raise ConfigError(f"a {modality} config needs vision_config.num_mel_bins and target_length")
        image_size = (int(vis["num_mel_bins"]), int(vis["target_length"]))
    else:
        image_size = _pair(vis["image_size"])
    temporal = bool(vis["add_time_attn"])
    if spec.clip and not temporal:
        raise ConfigError(f"a {modality} config needs vision_config.add_time_attn = true (the official "
                          f"{modality} tower cannot be built without it)")
    lora = None
    if int(vis["lora_r"]) > 0:
        lora = LoraConfig(r=int(vis["lora_r"]), alpha=float(vis["lora_alpha"]),
                          dropout=float(vis["lora_dropout"]), temporal_only=temporal)
    vision = VisionConfig(
        modality=modality, transformer=_transformer(vis), projection_dim=projection_dim,
        patch_size=int(vis["patch_size"]), image_size=image_size, num_channels=int(vis["num_channels"]),
        num_frames=int(vis["num_frames"]), temporal=temporal,
        tube_size=int(vis["tube_size"]) if vis["clip_type"] == "vl_new" else 0, lora=lora,
        max_depth=float(vis["max_depth"]), sample_rate=int(vis["audio_sample_rate"]),
        audio_mean=float(vis["audio_mean"]), audio_std=float(vis["audio_std"]))
    text = TextConfig(transformer=_transformer(text_cfg), projection_dim=projection_dim,
                      vocab_size=int(text_cfg["vocab_size"]),
                      context_length=int(text_cfg["max_position_embeddings"]))
    return CheckpointConfig(vision=vision, text=text,
                            logit_scale_init=float(data.get("logit_scale_init_value", 2.6592)),
                            official=data if model_type != "clip" else {})


def _from_ours(data: dict[str, Any]) -> CheckpointConfig:
    try:
        text = dict(data["text"])
        text["transformer"] = TransformerConfig(**text["transformer"]) if text.get("transformer") else None
        vision = dict(data["vision"])
        vision["transformer"] = TransformerConfig(**vision["transformer"])
        vision["image_size"] = _pair(vision["image_size"])
        if vision.get("lora"):
            lora = dict(vision["lora"])
            lora["targets"] = tuple(lora["targets"])
            vision["lora"] = LoraConfig(**lora)
        return CheckpointConfig(vision=VisionConfig(**vision), text=TextConfig(**text),
                                logit_scale_init=float(data.get("logit_scale_init", 2.6592)),
                                official=data.get("official", {}))
    except (KeyError, TypeError) as err:
        raise ConfigError(f"malformed languagebind config ({err})") from err


def to_official(config: CheckpointConfig) -> dict[str, Any]:
    """The official ``config.json`` for ``config`` (the original one, updated, when we loaded one)."""
    vis, text = config.vision, config.text
    if text.kind != "clip" or text.transformer is None:
        raise ConfigError("only a CLIP text tower can be exported in the official format")
    model_type = get_modality(vis.modality).model_type
    if model_type is None:
        raise ConfigError(f"the {vis.modality} modality has no official format (no model_type); save in ours")
    out = json.loads(json.dumps(config.official)) if config.official else {}
    out.update({"architectures": [model_type],
                "model_type": model_type, "projection_dim": vis.projection_dim,
                "logit_scale_init_value": config.logit_scale_init})
    t = text.transformer
    out["text_config"] = {**out.get("text_config", {}), "model_type": "clip_text_model",
                          "vocab_size": text.vocab_size, "hidden_size": t.width, "intermediate_size": t.mlp_dim,
                          "num_hidden_layers": t.layers, "num_attention_heads": t.heads,
                          "max_position_embeddings": text.context_length, "hidden_act": t.act,
                          "layer_norm_eps": t.eps}
    v = vis.transformer
    lora = vis.lora
    vision_cfg = {**out.get("vision_config", {}), "model_type": "clip_vision_model", "hidden_size": v.width,
                  "intermediate_size": v.mlp_dim, "num_hidden_layers": v.layers, "num_attention_heads": v.heads,
                  "num_channels": vis.num_channels, "patch_size": vis.patch_size, "hidden_act": v.act,
                  "layer_norm_eps": v.eps, "num_frames": vis.num_frames, "add_time_attn": vis.temporal,
                  "lora_r": lora.r if lora else 0, "lora_alpha": lora.alpha if lora else 16,
                  "lora_dropout": lora.dropout if lora else 0.0, "max_depth": vis.max_depth}
    if _spectrogram(vis.modality):
        vision_cfg.update({"image_size": 224, "num_mel_bins": vis.image_size[0],
                           "target_length": vis.image_size[1], "audio_sample_rate": vis.sample_rate,
                           "audio_mean": vis.audio_mean, "audio_std": vis.audio_std})
    else:
        if vis.image_size[0] != vis.image_size[1]:
            raise ConfigError("the official format needs a square image_size")
        vision_cfg["image_size"] = vis.image_size[0]  # an int: a list breaks the official loader (8.4)
    if vis.tube_size:
        vision_cfg.update({"clip_type": "vl_new", "tube_size": vis.tube_size})
    out["vision_config"] = vision_cfg
    return out
