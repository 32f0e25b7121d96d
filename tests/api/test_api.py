"""The public API end to end: official-format tiny checkpoints of every modality, shared assets, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import languagebind
from languagebind.cli.main import main as cli
from languagebind.errors import CheckpointError, InputError
from languagebind.model.presets import tiny_config

ASSET = {"image": "image/0.jpg", "thermal": "thermal/0.jpg", "depth": "depth/0.png", "audio": "audio/0.wav",
         "video": "video/0.mp4"}
SHAPES = {"image": (3, 224, 224), "thermal": (3, 224, 224), "depth": (3, 224, 224), "audio": (3, 112, 1036),
          "video": (3, 8, 224, 224)}
VARIANTS = {"image": {}, "video": {"num_frames": 8}, "audio": {}, "depth": {}, "thermal": {},
            "thermal_lora": {"lora_r": 2}, "video_vl_new": {"num_frames": 8, "tube_size": 1}}


def full_geometry(modality: str, **kwargs):
    size = (112, 1036) if modality == "audio" else (224, 224)
    return tiny_config(modality, image_size=size, patch_size=14, **kwargs)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Seven tiny checkpoints in the official format, sharing one text tower (as the released ones do)."""
    root = tmp_path_factory.mktemp("ckpts")
    text_state = None
    for seed, (name, kwargs) in enumerate(VARIANTS.items()):
        modality = name.split("_")[0]
        model = languagebind.LanguageBind.from_config(full_geometry(modality, **kwargs), seed=seed)
        if text_state is None:
            text_state = model.model.text.state_dict()
        model.model.text.load_state_dict(text_state)
        model.save_pretrained(root / name, format="official")
    return root


def test_every_variant_loads_preprocesses_and_encodes_deterministically(checkpoints, assets):
    for name in VARIANTS:
        modality = name.split("_")[0]
        model = languagebind.LanguageBind.from_pretrained(checkpoints / name)
        assert model.modalities == [modality]
        files = [str(assets / ASSET[modality]), str(assets / ASSET[modality].replace("0", "1"))]
        pixels = model.preprocess(modality, files)
        assert pixels.shape == (2, *SHAPES[modality]) and pixels.dtype == torch.float32
        first = model.encode(modality, files)
        again = model.encode(modality, files)
        from_tensor = model.encode(modality, pixels)
        assert first.shape == (2, 32) and torch.equal(first, again)
        assert torch.allclose(first, from_tensor, atol=1e-6)
        assert torch.allclose(first.norm(dim=-1), torch.ones(2), atol=1e-5)
        assert model.logit_scale(modality) == pytest.approx(np.exp(4.60517), rel=1e-6)


def test_several_checkpoints_share_one_text_tower(checkpoints):
    dirs = {m: checkpoints / m for m in ("image", "video", "audio", "depth", "thermal")}
    model = languagebind.LanguageBind.from_pretrained(dirs)
    assert sorted(model.modalities) == sorted(dirs) and len(model.model.extra_text) == 0
    text = model.encode("text", ["a dog", "a cat"])
    single = languagebind.LanguageBind.from_pretrained(checkpoints / "audio").encode("text", ["a dog", "a cat"])
    assert torch.equal(text, single)
    tokens = model.tokenize(["a photo of a cat"])
    assert tokens["input_ids"][0, :7].tolist() == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert tokens["input_ids"].shape == (1, 77) and int(tokens["attention_mask"].sum()) == 7


def test_fixture_through_the_api(fixture_dir, assets):
    model = languagebind.LanguageBind.from_pretrained(fixture_dir / "checkpoint")
    inputs, outputs = np.load(fixture_dir / "inputs.npz"), np.load(fixture_dir / "outputs.npz")
    sentences = ["Training a parakeet to climb up a ladder.", "A lion climbing a tree to catch a monkey."]
    tokens = model.tokenize(sentences)
    assert np.array_equal(tokens["input_ids"].numpy(), inputs["input_ids"])
    assert np.array_equal(tokens["attention_mask"].numpy(), inputs["attention_mask"])
    files = [assets / "image/0.jpg", assets / "image/1.jpg"]
    assert np.abs(model.preprocess("image", files).numpy() - inputs["pixel_values"]).max() <= 1e-5
    assert np.abs(model.encode("image", files).numpy() - outputs["modality_embeds"]).max() <= 1e-5
    assert np.abs(model.encode("text", sentences).numpy() - outputs["text_embeds"]).max() <= 1e-5
    assert model.logit_scale("image") == pytest.approx(float(outputs["logit_scale_exp"]), rel=1e-6)


def test_round_trip_through_our_format(tmp_path, checkpoints, assets):
    model = languagebind.LanguageBind.from_pretrained(checkpoints / "thermal_lora")
    model.save_pretrained(tmp_path / "ours")
    again = languagebind.LanguageBind.from_pretrained(tmp_path / "ours")
    file = [assets / "thermal/0.jpg"]
    assert torch.equal(model.encode("thermal", file), again.encode("thermal", file))


def test_classify_and_similarity(checkpoints, assets):
    model = languagebind.LanguageBind.from_pretrained(checkpoints / "image")
    result = model.classify("image", [assets / "image/0.jpg"], ["dog", "cat", "bird"])
    assert result.probs.shape == (1, 3) and torch.allclose(result.probs.sum(1), torch.ones(1))
    assert result.top[0][0] in {"dog", "cat", "bird"}


@pytest.mark.parametrize(("call", "message"), [
    (lambda m, a: m.encode("text", [3]), "a text must be a string"),
    (lambda m, a: m.encode("text", []), "empty"),
    (lambda m, a: m.encode("image", []), "empty"),
    (lambda m, a: m.encode("audio", [a / "audio/0.wav"]), "no audio tower is loaded"),
    (lambda m, a: m.encode("smell", ["x"]), "unknown modality"),
    (lambda m, a: m.encode("image", [a / "missing.jpg"]), "missing.jpg"),
    (lambda m, a: m.encode("image", [a / "audio/0.wav"]), "0.wav"),
    (lambda m, a: m.encode("image", torch.zeros(1, 3, 10, 10)), "expected a float batch"),
])
def test_bad_inputs_name_the_input(checkpoints, assets, call, message):
    model = languagebind.LanguageBind.from_pretrained(checkpoints / "image")
    with pytest.raises(InputError, match=message):
        call(model, assets)


def test_checkpoint_without_weights(tmp_path, checkpoints):
    (tmp_path / "config.json").write_text((checkpoints / "image" / "config.json").read_text())
    with pytest.raises(CheckpointError, match="no weights"):
        languagebind.LanguageBind.from_pretrained(tmp_path)


@pytest.mark.parametrize("modality", sorted(ASSET))
def test_cli_embed_every_modality(tmp_path, checkpoints, assets, modality):
    out = tmp_path / "emb.npy"
    code = cli(["embed", "--checkpoint", f"{modality}={checkpoints / modality}", "--out", str(out),
                str(assets / modality)])
    assert code == 0
    emb = np.load(out)
    rows = [json.loads(line) for line in out.with_suffix(".jsonl").read_text().splitlines()]
    assert emb.shape == (2, 32) and emb.dtype == np.float32 and [r["index"] for r in rows] == [0, 1]
    model = languagebind.LanguageBind.from_pretrained(checkpoints / modality)
    expected = model.encode(modality, [r["path"] for r in rows]).numpy()
    assert np.abs(emb - expected).max() <= 1e-6


def test_cli_skip_bad_and_atomic_outputs(tmp_path, checkpoints, assets, capsys):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    out = tmp_path / "emb.npy"
    args = ["embed", "--checkpoint", str(checkpoints / "image"), "--out", str(out)]
    assert cli([*args, str(assets / "image/0.jpg"), str(bad)]) == 2
    assert not out.exists() and not out.with_suffix(".jsonl").exists()
    assert "bad.jpg" in capsys.readouterr().err
    assert cli([*args, "--skip-bad", str(assets / "image/0.jpg"), str(bad)]) == 0
    assert np.load(out).shape == (1, 32)
    assert "skipped" in capsys.readouterr().err
    assert cli([*args, "--skip-bad", str(bad)]) == 1


def test_cli_similarity_and_classify(checkpoints, assets, capsys):
    assert cli(["similarity", "--checkpoint", str(checkpoints / "image"), "--text", "a dog", "--text", "a cat",
                str(assets / "image")]) == 0
    table = capsys.readouterr().out
    assert "a dog" in table and "0.jpg" in table
    assert cli(["similarity", "--checkpoint", f"video={checkpoints / 'video'}", "--checkpoint",
                f"audio={checkpoints / 'audio'}", "--json", str(assets / "video/0.mp4"), str(assets / "audio")]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert len(scores["rows"]) == 1 and len(scores["cols"]) == 2
    assert cli(["classify", "--checkpoint", str(checkpoints / "depth"), "--labels", "kitchen,bedroom",
                "--json", str(assets / "depth")]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(lines) == 2 and lines[0]["labels"][0]["label"] in {"kitchen", "bedroom"}


def test_merge_lora_keeps_embeddings(checkpoints, assets):
    model = languagebind.LanguageBind.from_pretrained(checkpoints / "thermal_lora")
    files = [assets / "thermal/0.jpg", assets / "thermal/1.jpg"]
    before = model.encode("thermal", files)
    assert model.merge_lora() == 8
    assert torch.allclose(model.encode("thermal", files), before, atol=1e-5)
