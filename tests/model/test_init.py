"""Starting towers from an HF CLIPModel directory (the official recipe's starting point)."""

from __future__ import annotations

import torch

from languagebind.model.core import LanguageBindModel
from languagebind.model.init import config_from_clip, init_from_clip


def build(clip, modality, **fields):
    config = config_from_clip(clip, modality, **fields)
    model = LanguageBindModel({modality: config}).eval()
    init_from_clip(model, modality, clip)
    return model


def test_image_tower_equals_hf_clip(hf_clip):
    directory, hf = hf_clip
    model = build(directory, "image")
    pixels = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    ids = torch.tensor([[49406, 320, 1125, 49407, 49407], [49406, 2368, 49407, 49407, 49407]])
    with torch.no_grad():
        ours = model.encode_modality("image", pixels, normalize=False)
        theirs = hf.get_image_features(pixel_values=pixels)
        ours_text = model.encode_text(ids, normalize=False)
        theirs_text = hf.get_text_features(input_ids=ids)
    theirs = getattr(theirs, "pooler_output", theirs)
    theirs_text = getattr(theirs_text, "pooler_output", theirs_text)
    assert torch.allclose(ours, theirs, atol=1e-5)
    assert torch.allclose(ours_text, theirs_text, atol=1e-5)


def test_video_temporal_layers_start_as_copies(hf_clip):
    directory, _ = hf_clip
    model = build(directory, "video", num_frames=4)
    layer = model.towers["video"].encoder.layers[1]
    assert torch.equal(layer.temporal.attn.q_proj.weight, layer.self_attn.q_proj.weight)
    assert torch.equal(layer.temporal.norm.weight, layer.layer_norm1.weight)
    assert layer.temporal.embedding.abs().sum() > 0


def test_audio_grid_and_tube_patches(hf_clip):
    directory, hf = hf_clip
    audio = build(directory, "audio", num_mel_bins=16, target_length=96)
    assert audio.towers["audio"].embeddings.position_embedding.shape == (1 + 2 * 12, 48)
    video = build(directory, "video", num_frames=4, clip_type="vl_new", tube_size=1)
    emb = video.towers["video"].embeddings
    assert emb.class_embedding.shape == (4, 48)
    assert torch.equal(emb.proj.weight[:, :, 0], hf.vision_model.embeddings.patch_embedding.weight)


def test_a_tower_starts_from_another_trained_tower():
    from languagebind.model.core import init_weights
    from languagebind.model.init import init_from_tower
    from languagebind.model.presets import tiny_config

    image = LanguageBindModel({"image": tiny_config("image", image_size=32, patch_size=8)})
    init_weights(image, torch.Generator().manual_seed(1))
    video = LanguageBindModel({"video": tiny_config("video", image_size=48, patch_size=8, num_frames=2)})
    text_before = {k: v.clone() for k, v in video.text.state_dict().items()}
    init_from_tower(video, "video", image.towers["image"])
    source, tower = image.towers["image"], video.towers["video"]
    assert torch.equal(tower.embeddings.proj.weight, source.embeddings.proj.weight)
    assert torch.equal(tower.encoder.layers[0].mlp.fc1.weight, source.encoder.layers[0].mlp.fc1.weight)
    assert torch.equal(tower.encoder.layers[0].temporal.attn.v_proj.weight,
                       source.encoder.layers[0].self_attn.v_proj.weight)  # temporal layers from spatial ones
    assert tower.embeddings.position_embedding.shape[-2] == 1 + 6 * 6  # 4x4 grid resampled to 6x6
    assert all(torch.equal(v, text_before[k]) for k, v in video.text.state_dict().items())
    official = tower.encoder.layers[0].temporal.embedding.clone()
    width = official.shape[-1]
    init_from_tower(video, "video", image.towers["image"], temporal_std=1.0)
    wider = tower.encoder.layers[0].temporal.embedding
    assert torch.allclose(wider, official * width ** 0.5)  # same draw, the requested scale


def test_a_tower_starts_from_one_with_another_patch_size():
    import torch.nn.functional as F

    from languagebind.model.core import init_weights
    from languagebind.model.init import init_from_tower
    from languagebind.model.presets import tiny_config
    from languagebind.model.resample import resize_patch_kernel

    image = LanguageBindModel({"image": tiny_config("image", image_size=24, patch_size=6)})
    init_weights(image, torch.Generator().manual_seed(1))
    video = LanguageBindModel({"video": tiny_config("video", image_size=32, patch_size=8, num_frames=2)})
    init_from_tower(video, "video", image.towers["image"])
    old, new = image.towers["image"].embeddings.proj.weight, video.towers["video"].embeddings.proj.weight
    assert new.shape[-2:] == (8, 8) and torch.equal(new, resize_patch_kernel(old, (8, 8)))
    # a 6x6 patch upsampled to 8x8 gets the token the old kernel gave it (pseudo-inverse resize)
    patch = torch.randn(4, old.shape[1], 6, 6)
    upsampled = F.interpolate(patch, size=(8, 8), mode="bilinear", align_corners=False)
    before = torch.einsum("nchw,dchw->nd", patch, old)
    after = torch.einsum("nchw,dchw->nd", upsampled, new)
    assert torch.allclose(before, after, atol=1e-4)
    assert video.towers["video"].embeddings.position_embedding.shape[-2] == 1 + 4 * 4  # 4x4 grid kept
