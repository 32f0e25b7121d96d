"""The trainer's parts: config, loss, schedule and parameter groups, tuning modes, text cache, patch dropout,
checkpoint files."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from languagebind.errors import CheckpointError, ConfigError
from languagebind.model.core import LanguageBindModel
from languagebind.model.presets import tiny_config as model_tiny_config
from languagebind.train import checkpoint as ckpt
from languagebind.train.loss import contrastive_loss
from languagebind.train.optim import (
    build_optimizer,
    clamp_temperature,
    scheduled_lr,
    select_trainable,
    set_lr,
)
from languagebind.train.recipe import TrainConfig
from languagebind.train.start import drop_patches, lora_config, starting_model
from languagebind.train.text_cache import TextEmbeddings
from tests.train.helpers import tiny_config, write_config


def test_config_file_overrides_and_unknown_keys(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.yaml", modality="video", train_data="x.jsonl", lr=0.1, vision={"num_frames": 4})
    cfg = TrainConfig.load(path, ["lr=1e-4", "augment=false", "vision.tube_size=1", "lr_multipliers={'*': 2}"])
    assert (cfg.lr, cfg.augment, cfg.vision, cfg.lr_multipliers) == (1e-4, False, {"num_frames": 4, "tube_size": 1},
                                                                     {"*": 2})
    with pytest.raises(ConfigError, match="unknown train config keys"):
        TrainConfig.load(path, ["learning_rate=1"])
    with pytest.raises(ConfigError, match="tuning"):
        TrainConfig.load(path, ["tuning=bitfit"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        TrainConfig.load(path, ["lr"])
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_train_config_by_shipped_name_and_errors_name_the_file(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shipped = Path(__file__).resolve().parents[2] / "configs" / "train" / "depth_lora.yaml"
    assert TrainConfig.load("depth_lora") == TrainConfig.load(shipped)
    with pytest.raises(ConfigError, match=r"depth_lora.yaml: unknown train config keys \['learning_rate'\]"):
        TrainConfig.load("depth_lora", ["learning_rate=1"])
    with pytest.raises(ConfigError, match=r"shipped train configs: .*depth_lora.*tiny"):
        TrainConfig.load("depth_loar")


def test_loss_is_symmetric_infonce() -> None:
    g = torch.Generator().manual_seed(0)
    a = F.normalize(torch.randn(5, 8, generator=g), dim=-1)
    b = F.normalize(torch.randn(5, 8, generator=g), dim=-1)
    scale = torch.tensor(math.log(10.0))
    logits = 10 * a @ b.T
    manual = sum(-logits[i].log_softmax(0)[i] - logits[:, i].log_softmax(0)[i] for i in range(5)) / 10
    assert torch.allclose(contrastive_loss(a, b, scale), manual, atol=1e-6)


def test_schedule_warmup_then_cosine() -> None:
    cfg = tiny_config(train_data="x", lr=1.0, warmup_steps=4, max_steps=14, min_lr_ratio=0.1)
    assert [scheduled_lr(s, cfg) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert scheduled_lr(4, cfg) == 1.0 and abs(scheduled_lr(9, cfg) - 0.55) < 1e-12
    assert abs(scheduled_lr(14, cfg) - 0.1) < 1e-12


def test_lr_multipliers_really_apply_and_decay_exclusions() -> None:
    cfg = tiny_config(train_data="x", tuning="lora", lora_r=4, coef_lr=1e-3, lr=1.0, warmup_steps=0,
                      lr_multipliers={"*post_layernorm*": 0.0})
    model = starting_model(cfg).model
    trainable = select_trainable(model, cfg)
    assert not any("post_layernorm" in n for n in trainable)  # multiplier 0 freezes
    optimizer = build_optimizer(trainable, cfg)
    set_lr(optimizer, 0, cfg)
    lr_of = {n: g["lr"] for g in optimizer.param_groups for n in g["names"]}
    wd_of = {n: g["weight_decay"] for g in optimizer.param_groups for n in g["names"]}
    lora = [n for n in lr_of if ".lora_" in n]
    assert lora and all(lr_of[n] == 1.0 and wd_of[n] == 0.2 for n in lora)
    for name in ("towers.image.embeddings.class_embedding", "towers.image.projection.weight", "logit_scales.image"):
        assert lr_of[name] == pytest.approx(1e-3)  # the official --coef-lr, which its scheduler overwrote
    assert wd_of["towers.image.embeddings.class_embedding"] == 0 and wd_of["logit_scales.image"] == 0
    assert wd_of["towers.image.projection.weight"] == 0.2


@pytest.mark.parametrize(("tuning", "modality", "expect", "frozen"), [
    ("lora", "video", ["lora_A", "temporal.embedding", "temporal.norm", "class_embedding", "post_layernorm",
                       "projection"], ["self_attn.q_proj.weight", "position_embedding", "mlp", "pre_layrnorm"]),
    ("attention", "video", ["temporal.attn.q_proj", "class_embedding", "projection"], ["self_attn", "mlp"]),
    ("attention", "image", ["self_attn.q_proj", "class_embedding"], ["mlp", "position_embedding"]),
    ("partial", "image", ["layers.1.mlp", "layers.1.self_attn", "pre_layrnorm", "post_layernorm"],
     ["layers.0.", "position_embedding", "embeddings.proj"]),
    ("full", "audio", ["layers.0.mlp", "position_embedding", "embeddings.proj"], []),
])
def test_tuning_modes(tuning: str, modality: str, expect: list[str], frozen: list[str]) -> None:
    cfg = tiny_config(train_data="x", modality=modality, tuning=tuning, partial_layers=1, lora_r=2)
    model = starting_model(cfg).model
    trainable = select_trainable(model, cfg)
    names = [n for n in trainable if n.startswith("towers.")]
    for word in expect:
        assert any(word in n for n in names), word
    for word in frozen:
        assert not any(word in n for n in names), word
    assert not any(p.requires_grad for p in model.text.parameters())
    if tuning == "lora" and modality == "video":  # official: adapters on the temporal attention only
        assert all(".temporal." in n for n in names if ".lora_" in n)


def test_temperature_clamped_at_100() -> None:
    model = LanguageBindModel({"image": model_tiny_config("image")})
    with torch.no_grad():
        model.logit_scales["image"].fill_(7.0)
    clamp_temperature(model, "image", 100.0)
    assert float(model.logit_scales["image"].detach().exp()) == pytest.approx(100.0, rel=1e-6)


def test_text_cache_is_exact_on_and_off() -> None:
    start = starting_model(tiny_config(train_data="x"))
    texts = [f"caption number {i}" for i in range(11)]
    tokens = start.tokenizer(texts)

    def encode(ids, mask):
        return start.model.encode_text(ids, mask)

    cached = TextEmbeddings(encode, torch.device("cpu"), chunk=4)
    first = cached(texts[:7], tokens["input_ids"][:7], tokens["attention_mask"][:7])
    again = cached(texts[3:], tokens["input_ids"][3:], tokens["attention_mask"][3:])
    plain = TextEmbeddings(encode, torch.device("cpu"), chunk=4, enabled=False)
    reference = plain(texts[::-1], tokens["input_ids"].flip(0), tokens["attention_mask"].flip(0)).flip(0)
    assert torch.equal(first, reference[:7]) and torch.equal(again, reference[3:])
    assert cached.hits == 4 and cached.misses == 11 and len(cached.cache) == 11 and not plain.cache
    asked = []
    lazy = TextEmbeddings(encode, torch.device("cpu"), chunk=4,
                          tokenize=lambda t: asked.append(t) or start.tokenizer(t))
    assert torch.equal(lazy(texts[:7]), reference[:7]) and torch.equal(lazy(texts[3:]), reference[3:])
    assert asked == [texts[:7], texts[7:]]  # without tokens, only the texts not cached yet are tokenized
    with pytest.raises(ValueError, match="tokenize"):
        TextEmbeddings(encode, torch.device("cpu"))(["never seen"])


def test_patch_dropout_keeps_cls_and_one_choice_per_clip() -> None:
    tokens = torch.arange(2 * 3 * 5, dtype=torch.float).view(6, 5, 1).expand(6, 5, 2)  # 2 clips x 3 frames
    out = drop_patches(tokens, 3, 0.5, torch.tensor([11, 12]))
    assert out.shape == (6, 3, 2)
    assert torch.equal(out[:, 0], tokens[:, 0])
    kept = out[:, 1:, 0] - tokens[:, :1, 0]  # patch indices per row
    assert torch.equal(kept[0], kept[1]) and torch.equal(kept[3], kept[5])
    assert torch.equal(drop_patches(tokens, 3, 0.5, torch.tensor([11, 12])), out)


def test_lora_targets_follow_the_official_video_rule() -> None:
    cfg = tiny_config(train_data="x", tuning="lora")
    assert lora_config(cfg, temporal=True).temporal_only and not lora_config(cfg, temporal=False).temporal_only


def test_checkpoint_files_atomic_keep_and_validate(tmp_path: Path) -> None:
    weights = {"a": torch.randn(3), "b": torch.randn(2, 2)}
    for step in (1, 2, 3, 4):
        ckpt.save_checkpoint(tmp_path, step, weights, {"a/exp_avg": torch.zeros(3)}, {"ranks": []}, keep=2)
    names = [p.name for p in ckpt.list_checkpoints(tmp_path)]
    assert names == ["step-00000003", "step-00000004"]
    newest = tmp_path / "checkpoints" / "step-00000004"
    data = (newest / "trainable.safetensors").read_bytes()
    (newest / "trainable.safetensors").write_bytes(data[:-7])
    with pytest.raises(CheckpointError, match="truncated"):
        ckpt.validate(newest)
    path, state = ckpt.find_resume(tmp_path)
    assert path.name == "step-00000003" and state["step"] == 3
    (path / "state.json").write_text("{")
    assert ckpt.find_resume(tmp_path) is None


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[2] / "configs" / "train").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_shipped_configs_load(path: Path) -> None:
    cfg = TrainConfig.load(path)
    assert cfg.modality in path.stem or path.stem == "tiny"
    if path.stem.endswith("_lora"):
        assert cfg.tuning == "lora" and cfg.init_temp == 0.07 and cfg.weight_decay == 0.2
    if path.stem == "depth_lora":  # Table 11: lr 5e-4, coef 1e-3, batch 1024, warm-up 200, mask 0.5, rank 2
        assert (cfg.lr, cfg.coef_lr, cfg.batch_size * 8, cfg.warmup_steps, cfg.patch_dropout, cfg.lora_r) == (
            5e-4, 1e-3, 1024, 200, 0.5, 2)
