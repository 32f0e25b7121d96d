"""The shared core against the official fixture, released sizes, and architectural invariants."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from languagebind.model.checkpoint import load_single, read_config
from languagebind.model.config import CheckpointConfig
from languagebind.model.core import LanguageBindModel, checkpoint_view
from languagebind.model.presets import tiny_config
from tests.model.helpers import random_model

EXPECTED_PARAMS_M = {"Image": 427.6, "Depth": 428.0, "Thermal": 428.0, "Audio_FT": 428.0, "Video_FT": 528.6}


def load_fixture(fixture_dir):
    config = read_config(fixture_dir / "checkpoint")
    model = LanguageBindModel({"image": config}).eval()
    view = checkpoint_view(model, "image")
    view.load_state_dict(load_single(fixture_dir / "checkpoint", view, config))
    return model


def test_fixture_stage_by_stage(fixture_dir):
    model = load_fixture(fixture_dir)
    inputs, outputs = np.load(fixture_dir / "inputs.npz"), np.load(fixture_dir / "outputs.npz")
    pixels = torch.from_numpy(inputs["pixel_values"])
    with torch.no_grad():
        stages = model.towers["image"].intermediates(pixels)
        text = model.encode_text(torch.from_numpy(inputs["input_ids"]), torch.from_numpy(inputs["attention_mask"]))
        image = model.encode_modality("image", pixels)
    cls = stages["last_hidden_state"][:, 0]
    checks = {
        "modality_last_hidden_state_cls": cls, "modality_pooled": stages["pooled"],
        "modality_features": stages["features"], "modality_embeds": image, "text_embeds": text,
    }
    for name, ours in checks.items():
        assert np.abs(ours.numpy() - outputs[name]).max() <= 1e-5, name
    assert float(model.logit_scales["image"].detach()) == pytest.approx(float(outputs["logit_scale"]), abs=0)
    logits = model.logit_scales["image"].exp() * text @ image.T
    np.testing.assert_allclose(logits.detach().numpy(), outputs["logits_per_text"], rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS_M))
def test_released_configs_build_full_size(released_dir, name):
    config = CheckpointConfig.from_file(released_dir / f"LanguageBind_{name}")
    with torch.device("meta"):
        model = LanguageBindModel({config.modality: config})
    count = sum(p.numel() for p in model.parameters()) / 1e6
    assert round(count, 1) == EXPECTED_PARAMS_M[name]


def test_one_frame_clip_equals_its_image():
    model = random_model(tiny_config("image"))
    pixels = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        still = model.encode_modality("image", pixels)
        clip = model.encode_modality("image", pixels.unsqueeze(2))
    assert torch.equal(still, clip)


@pytest.mark.parametrize("modality", ["image", "audio", "video"])
def test_batch_row_equals_item_alone_and_repeatable(modality):
    config = tiny_config(modality)
    model = random_model(config)
    shape = (3, 4, 32, 32) if modality == "video" else (3, *config.vision.image_size)
    pixels = torch.randn(3, *shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        batch = model.encode_modality(modality, pixels)
        alone = model.encode_modality(modality, pixels[1:2])
        again = model.encode_modality(modality, pixels)
    assert torch.allclose(batch[1], alone[0], atol=1e-6)
    assert torch.equal(batch, again)


def test_temporal_layers_mix_frames():
    model = random_model(tiny_config("video"))
    pixels = torch.randn(1, 3, 4, 32, 32, generator=torch.Generator().manual_seed(2))
    shuffled = pixels[:, :, [1, 0, 2, 3]]
    with torch.no_grad():
        a, b = model.encode_modality("video", pixels), model.encode_modality("video", shuffled)
    assert not torch.allclose(a, b, atol=1e-4)  # the temporal embedding makes frame order matter


def test_tube_patches_one_cls_per_frame_match_per_frame_conv():
    config = tiny_config("video", tube_size=1)
    model = random_model(config)
    tower = model.towers["video"]
    assert tower.embeddings.class_embedding.shape == (4, 64)
    assert tower.embeddings.proj.weight.shape == (64, 3, 1, 8, 8)
    pixels = torch.randn(2, 3, 4, 32, 32, generator=torch.Generator().manual_seed(3))
    tokens, frames = tower.embeddings(pixels)
    conv2d = torch.nn.functional.conv2d(pixels[:, :, 2], tower.embeddings.proj.weight[:, :, 0], stride=8)
    patches = conv2d.flatten(2).transpose(1, 2) + tower.embeddings.position_embedding[1:]
    assert frames == 4
    assert torch.allclose(tokens.view(2, 4, 17, 64)[:, 2, 1:], patches, atol=1e-5)
    cls = tower.embeddings.class_embedding[2] + tower.embeddings.position_embedding[0]
    assert torch.allclose(tokens.view(2, 4, 17, 64)[0, 2, 0], cls, atol=1e-6)
