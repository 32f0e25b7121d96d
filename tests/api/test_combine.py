"""``LanguageBind.combine`` and ``--combine`` on the CLI: a combined query equals the weighted sum by hand."""

from __future__ import annotations

import json

import pytest
import torch

from languagebind.api import LanguageBind
from languagebind.cli.main import main as cli
from languagebind.errors import InputError
from languagebind.model.presets import tiny_config


@pytest.fixture(scope="module")
def model():
    made = LanguageBind.from_config({m: tiny_config(m) for m in ("video", "audio", "image")}, seed=3)
    with torch.no_grad():
        made.model.logit_scales["video"].fill_(2.0)  # different temperatures, to see them used
        made.model.logit_scales["audio"].fill_(3.0)
    return made


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory):
    root = tmp_path_factory.mktemp("combine")
    return {m: model.save_pretrained(root / m, modality=m) for m in model.modalities}


def test_combined_query_equals_the_weighted_sum_by_hand(model, assets):
    video = model.encode("video", [assets / "video/0.mp4", assets / "video/1.mp4"])
    audio = model.encode("audio", [assets / "audio/0.wav", assets / "audio/1.wav"])
    by_hand = 0.25 * video / video.norm(dim=1, keepdim=True) + 0.75 * audio / audio.norm(dim=1, keepdim=True)
    by_hand = by_hand / by_hand.norm(dim=1, keepdim=True)
    out = model.combine({"video": video, "audio": audio}, {"video": 0.25, "audio": 0.75})
    assert out.shape == (2, 32) and torch.allclose(out, by_hand, atol=1e-6)
    # files are encoded first; equal weights by default
    files = model.combine({"video": [assets / "video/0.mp4"], "audio": [assets / "audio/0.wav"]})
    equal = (video[0] + audio[0]) / (video[0] + audio[0]).norm()
    assert torch.allclose(files[0], equal, atol=1e-6)
    # temperature: weights times exp(logit_scale), text unscaled
    text = model.encode("text", ["a dog barking"])
    scaled = model.combine({"video": video[:1], "audio": audio[:1], "text": text}, temperature=True)
    expected = torch.exp(torch.tensor(2.0)) * video[0] + torch.exp(torch.tensor(3.0)) * audio[0] + text[0]
    assert torch.allclose(scaled[0], expected / expected.norm(), atol=1e-6)
    with pytest.raises(InputError, match="no modalities"):
        model.combine({})


def test_cli_similarity_and_classify_with_combine(model, saved, assets, capsys):
    ckpts = [f"--checkpoint={m}={saved[m]}" for m in ("video", "audio")]
    spec = f"video={assets / 'video/0.mp4'},audio={assets / 'audio/0.wav'}"
    assert cli(["similarity", *ckpts, "--combine", spec, "--text", "a dog", "--text", "a cat", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    query = model.combine({"video": [assets / "video/0.mp4"], "audio": [assets / "audio/0.wav"]})
    texts = model.encode("text", ["a dog", "a cat"])
    assert out["rows"] == [f"video:{assets / 'video/0.mp4'}+audio:{assets / 'audio/0.wav'}"]
    assert torch.allclose(torch.tensor(out["scores"]), query @ texts.T, atol=1e-5)
    # against files: the combined query is the row, the files the columns
    assert cli(["similarity", *ckpts, "--combine", spec, "--weights", "video=1,audio=3", "--json",
                f"audio={assets / 'audio/1.wav'}"]) == 0
    out = json.loads(capsys.readouterr().out)
    weighted = model.combine({"video": [assets / "video/0.mp4"], "audio": [assets / "audio/0.wav"]},
                             {"video": 1.0, "audio": 3.0})
    assert torch.allclose(torch.tensor(out["scores"]), weighted @ model.encode("audio", [assets / "audio/1.wav"]).T,
                          atol=1e-5)
    assert cli(["classify", *ckpts, "--labels", "dog,cat", "--combine", spec, "--top-k", "2", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    labels = model.label_embeddings(["dog", "cat"])
    probs = ((torch.exp(torch.tensor(2.0)) + torch.exp(torch.tensor(3.0))) / 2 * query @ labels.T).softmax(-1)[0]
    best = int(probs.argmax())
    assert row["labels"][0] == {"label": ["dog", "cat"][best], "score": pytest.approx(float(probs[best]), abs=1e-5)}


def test_cli_combine_errors_and_skip_bad(saved, assets, tmp_path, capsys):
    ckpts = [f"--checkpoint={m}={saved[m]}" for m in ("video", "audio")]
    assert cli(["similarity", *ckpts, "--combine", f"video={assets / 'video/0.mp4'}", "--text", "x"]) == 2
    assert "at least two modalities" in capsys.readouterr().err
    assert cli(["similarity", *ckpts, "--combine", f"depth=a.png,video={assets / 'video/0.mp4'}", "--text", "x"]) == 2
    assert "no depth tower loaded" in capsys.readouterr().err
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not audio")
    good = f"video={assets / 'video/0.mp4'},audio={assets / 'audio/0.wav'}"
    assert cli(["classify", *ckpts, "--labels", "a,b", "--combine", f"video={assets / 'video/0.mp4'},audio={bad}"]) == 2
    capsys.readouterr()
    assert cli(["classify", *ckpts, "--labels", "a,b", "--skip-bad", "--combine", good, "--combine",
                f"video={assets / 'video/1.mp4'},audio={bad}"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 1 and f"skipped {bad}" in captured.err
    assert cli(["classify", *ckpts, "--labels", "a,b", "--combine", good, "--weights", "video=1"]) == 2
    assert "no weight for audio" in capsys.readouterr().err
    assert cli(["similarity", *ckpts, "--text", "x", "--temperature", str(assets / "video/0.mp4")]) == 2
    assert "'--temperature': applies to --combine queries" in capsys.readouterr().err
