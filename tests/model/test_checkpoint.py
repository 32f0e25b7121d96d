"""Checkpoint IO: official key names (plain, LoRA in both peft spellings, video temporal, 3-D patches),
exact round trips, strict errors that name the keys, and geometry resampling."""

from __future__ import annotations

import json

import pytest
import torch

from languagebind.errors import CheckpointError
from languagebind.model.checkpoint import load_single, read_config, read_weights, save_official, save_ours
from languagebind.model.core import LanguageBindModel, checkpoint_view
from languagebind.model.lora import merge_lora
from languagebind.model.presets import tiny_config
from tests.model.helpers import random_model, save_tiny_official

VARIANTS = {
    "image": {}, "depth": {}, "audio": {}, "thermal": {}, "thermal_lora": {"lora_r": 2},
    "video": {}, "video_lora": {"lora_r": 2}, "video_vl_new": {"tube_size": 1},
}


def reload(directory, modality=None):
    config = read_config(directory, modality)
    model = LanguageBindModel({config.modality: config}).eval()
    view = checkpoint_view(model, config.modality)
    view.load_state_dict(load_single(directory, view, config))
    return model, config


def state_of(model, modality):
    return checkpoint_view(model, modality).state_dict()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_official_round_trip_is_exact(tmp_path, variant):
    modality = variant.split("_")[0]
    original = save_tiny_official(tmp_path / "official", modality, **VARIANTS[variant])
    loaded, config = reload(tmp_path / "official")
    assert config.modality == modality
    a, b = state_of(original, modality), state_of(loaded, modality)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    save_ours(tmp_path / "ours", config, b)
    again, _ = reload(tmp_path / "ours")
    c = state_of(again, modality)
    assert all(torch.equal(a[k], c[k]) for k in a)
    save_official(tmp_path / "back", config, c)
    first, _ = read_weights(tmp_path / "official")
    second, _ = read_weights(tmp_path / "back")
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def test_official_key_names_and_counts(tmp_path):
    counts = {}
    for name, kwargs in {"plain": {}, "lora": {"lora_r": 2}}.items():
        save_tiny_official(tmp_path / name, "thermal", **kwargs)
        counts[name], _ = read_weights(tmp_path / name)
    save_tiny_official(tmp_path / "video", "video")
    video, _ = read_weights(tmp_path / "video")
    # the official tiny fixtures: 80 keys plain, 96 with LoRA (2 layers), 102 video
    assert (len(counts["plain"]), len(counts["lora"]), len(video)) == (80, 96, 102)
    lora = counts["lora"]
    assert "vision_model.encoder.base_model.model.layers.0.self_attn.q_proj.lora_A.default.weight" in lora
    lora_b = "vision_model.encoder.base_model.model.layers.1.self_attn.out_proj.lora_B.default.weight"
    assert lora[lora_b].shape == (64, 2)
    assert "vision_model.encoder.layers.0.temporal_embedding" in video
    assert "vision_model.encoder.layers.1.temporal_attn.q_proj.weight" in video
    assert "text_model.embeddings.position_ids" in video and "logit_scale" in video
    config = json.loads((tmp_path / "lora" / "config.json").read_text())
    assert config["model_type"] == "LanguageBindThermal" and config["vision_config"]["lora_r"] == 2
    assert isinstance(config["vision_config"]["image_size"], int)


def test_newer_peft_base_layer_naming_loads(tmp_path):
    original = save_tiny_official(tmp_path / "old", "thermal", lora_r=2)
    state, _ = read_weights(tmp_path / "old")
    renamed = {k.replace("q_proj.weight", "q_proj.base_layer.weight").replace("q_proj.bias", "q_proj.base_layer.bias")
               if "base_model" in k else k: v for k, v in state.items()}
    (tmp_path / "new").mkdir()
    torch.save(renamed, tmp_path / "new" / "pytorch_model.bin")
    (tmp_path / "new" / "config.json").write_text((tmp_path / "old" / "config.json").read_text())
    loaded, _ = reload(tmp_path / "new")
    a, b = state_of(original, "thermal"), state_of(loaded, "thermal")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_lora_merge_preserves_outputs():
    model = random_model(tiny_config("thermal", lora_r=2))
    pixels = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before = model.encode_modality("thermal", pixels)
        assert merge_lora(model.towers["thermal"]) == 8
        after = model.encode_modality("thermal", pixels)
    assert not any("lora" in k for k in model.state_dict())
    assert torch.allclose(before, after, atol=1e-6)


def _corrupt(tmp_path, edit):
    save_tiny_official(tmp_path, "image")
    state, _ = read_weights(tmp_path)
    edit(state)
    torch.save(state, tmp_path / "pytorch_model.bin")


@pytest.mark.parametrize(("edit", "message"), [
    (lambda s: s.pop("vision_model.post_layernorm.weight"), "missing keys: vision.post_layernorm.weight"),
    (lambda s: s.__setitem__("vision_model.extra.weight", torch.zeros(1)), "no official name: vision_model.extra"),
    (lambda s: s.__setitem__("text_model.final_layer_norm.weight", torch.zeros(5)), "shape mismatch for text.final"),
])
def test_strict_loading_names_the_keys(tmp_path, edit, message):
    _corrupt(tmp_path, edit)
    with pytest.raises(CheckpointError, match=message.replace(".", r"\.")) as err:
        reload(tmp_path)
    assert "pytorch_model.bin" in str(err.value)


def test_bad_checkpoint_dirs(tmp_path):
    with pytest.raises(CheckpointError, match="no such directory"):
        read_config(tmp_path / "nope")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "LanguageBindSmell"}))
    with pytest.raises(CheckpointError, match="unknown model_type 'LanguageBindSmell'"):
        read_config(tmp_path)
    with pytest.raises(CheckpointError, match="no weights"):
        read_weights(tmp_path)
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match="cannot read weights"):
        read_weights(tmp_path)


def test_loading_into_another_geometry_resamples(tmp_path):
    save_tiny_official(tmp_path, "video")
    config = read_config(tmp_path).with_geometry(image_size=48, num_frames=6)
    model = LanguageBindModel({"video": config}).eval()
    view = checkpoint_view(model, "video")
    view.load_state_dict(load_single(tmp_path, view, config))
    tower = model.towers["video"]
    assert tower.embeddings.position_embedding.shape == (37, 64)
    assert tower.encoder.layers[0].temporal.embedding.shape == (1, 6, 64)
    with torch.no_grad():
        out = model.encode_modality("video", torch.randn(1, 3, 6, 48, 48))
    assert out.shape == (1, 32) and torch.isfinite(out).all()
