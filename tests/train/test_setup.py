"""Starting points (HF CLIPModel dir, released-format LanguageBind checkpoint with LoRA) and numerics switches
(bf16 autocast, gradient checkpointing)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from languagebind.api import LanguageBind
from languagebind.train.loop import train
from languagebind.train.start import starting_model
from tests.model.helpers import save_tiny_official
from tests.train.helpers import colour_data, final_weights, max_difference, tiny_config


def test_train_from_hf_clip_keeps_its_text_tower(tmp_path: Path, hf_clip) -> None:
    directory, hf = hf_clip
    cfg = tiny_config(init=str(directory), tuning="lora", lora_r=2, max_steps=3, save_every=3,
                      **colour_data(tmp_path, "manifest", "image", n_train=16))
    result = train(cfg, tmp_path / "run")
    ours = result.model.text.state_dict()
    assert torch.equal(ours["token_embedding.weight"], hf.text_model.embeddings.token_embedding.weight)
    assert torch.equal(ours["encoder.layers.1.mlp.fc2.weight"], hf.text_model.encoder.layers[1].mlp.fc2.weight)


def test_video_tower_from_hf_clip_follows_the_official_recipe(hf_clip) -> None:
    directory, _ = hf_clip
    model = starting_model(tiny_config(modality="video", init=str(directory), tuning="lora", lora_r=2,
                                    vision={"num_frames": 4}, train_data="x")).model
    layer = model.towers["video"].encoder.layers[0]
    assert torch.equal(layer.temporal.attn.q_proj.weight, layer.self_attn.q_proj.weight)  # copied, LoRA zero
    assert hasattr(layer.temporal.attn.q_proj, "lora_A") and not hasattr(layer.self_attn.q_proj, "lora_A")


def test_released_lora_checkpoint_is_merged_then_given_new_adapters(tmp_path: Path) -> None:
    save_tiny_official(tmp_path / "ckpt", "image", lora_r=2)
    released = LanguageBind.from_pretrained(tmp_path / "ckpt")
    pixels = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    expected = released.encode("image", pixels)
    for tuning in ("lora", "partial"):
        start = starting_model(tiny_config(init=str(tmp_path / "ckpt"), tuning=tuning, lora_r=4, train_data="x"))
        lb = LanguageBind(start.model, start.tokenizer, start.sources)
        lora = lb.config("image").vision.lora
        assert (lora.r if lora else None) == (4 if tuning == "lora" else None)
        assert (lb.encode("image", pixels) - expected).abs().max() < 1e-5  # fresh adapters start at zero


def test_gradient_checkpointing_is_exact_and_bf16_trains(tmp_path: Path) -> None:
    data = colour_data(tmp_path, "manifest", "image", n_train=16)
    train(tiny_config(max_steps=3, save_every=3, **data), tmp_path / "plain")
    train(tiny_config(max_steps=3, save_every=3, grad_checkpointing=True, **data), tmp_path / "ckpt")
    assert max_difference(final_weights(tmp_path / "ckpt"), final_weights(tmp_path / "plain")) <= 1e-6
    bf16 = train(tiny_config(max_steps=12, save_every=12, precision="bf16", **data), tmp_path / "bf16")
    losses = [h["loss"] for h in bf16.history]
    assert all(torch.isfinite(torch.tensor(losses))) and sum(losses[-3:]) < sum(losses[:3])
    weights = final_weights(tmp_path / "bf16")
    assert all(w.dtype == torch.float32 for w in weights.values())  # master weights stay fp32


def test_another_modality_starts_from_a_released_lora_checkpoint_with_its_adapters_folded_in(tmp_path: Path) -> None:
    save_tiny_official(tmp_path / "depth", "depth", lora_r=2)
    depth = LanguageBind.from_pretrained(tmp_path / "depth")
    pixels = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    start = starting_model(tiny_config(modality="thermal", init=str(tmp_path / "depth"), tuning="partial",
                                       train_data="x"))
    lb = LanguageBind(start.model, start.tokenizer, start.sources)
    assert lb.modalities == ["thermal"]
    assert (lb.encode("thermal", pixels) - depth.encode("depth", pixels)).abs().max() < 1e-5
    with pytest.raises(Exception, match="CLIP"):
        starting_model(tiny_config(modality="audio", init=str(tmp_path / "depth"), train_data="x"))
