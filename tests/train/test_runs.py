"""Acceptance: tiny runs in the three data formats learn; frozen text stays bit-identical; the exported model gives
the trained embeddings; accumulation and the text cache do not change the result; bad shard samples are counted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from languagebind.api import LanguageBind
from languagebind.data import DataError
from languagebind.train.export import export_run
from languagebind.train.loop import train
from tests.data.helpers import make_clips, write_shards
from tests.train.helpers import colour_data, final_weights, max_difference, tiny_config


@pytest.mark.parametrize(("fmt", "modality"), [("manifest", "image"), ("shards", "image"), ("official", "thermal")])
def test_tiny_run_learns_in_each_format(tmp_path: Path, fmt: str, modality: str) -> None:
    cfg = tiny_config(modality=modality, batch_size=16, max_steps=30, save_every=30, **colour_data(tmp_path, fmt,
                                                                                                   modality))
    result = train(cfg, tmp_path / "run")
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == list(range(1, 31)) and all("loss" in line for line in lines)
    losses = [line["loss"] for line in lines]
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.2
    final = result.history[-1]
    assert final["val_items"] == 8 and final["val_r1_text_to_item"] >= 0.5  # chance: 1/8


def test_frozen_text_is_bit_identical_and_lora_export_gives_the_trained_embeddings(tmp_path: Path) -> None:
    data = colour_data(tmp_path, "manifest", "image", n_train=16)
    cfg = tiny_config(tuning="lora", lora_r=4, lr=2e-2, coef_lr=1.0, max_steps=8, save_every=8, **data)
    from languagebind.train.start import starting_model

    before = {k: v.clone() for k, v in starting_model(cfg).model.state_dict().items()}
    result = train(cfg, tmp_path / "run")
    after = result.model.state_dict()
    text_keys = [k for k in before if k.startswith("text.")]
    assert text_keys and all(torch.equal(before[k], after[k]) for k in text_keys)
    base = [k for k in before if ".self_attn." in k and "lora" not in k]
    assert base and all(torch.equal(before[k], after[k]) for k in base)  # LoRA leaves the base weights
    assert any(not torch.equal(before[k], after[k]) for k in before if k.endswith("lora_B"))

    pixels = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    model = LanguageBind(result.model, result.tokenizer)
    trained = model.encode("image", pixels)
    trained_text = model.encode("text", ["my red thing", "a blue scene"])
    for fmt in ("safetensors", "official"):
        loaded = LanguageBind.from_pretrained(export_run(tmp_path / "run", tmp_path / fmt, fmt))
        assert loaded.config("image").vision.lora is None  # merged
        assert (loaded.encode("image", pixels) - trained).abs().max() <= 1e-5
        assert torch.equal(loaded.encode("text", ["my red thing", "a blue scene"]), trained_text)
        assert loaded.logit_scale("image") == pytest.approx(model.logit_scale("image"))


def test_accumulation_and_text_cache_do_not_change_the_result(tmp_path: Path) -> None:
    data = colour_data(tmp_path, "manifest", "image", n_train=32)
    common = {"max_steps": 4, "save_every": 4, "patch_dropout": 0.25, "tuning": "partial", "partial_layers": 1, **data}
    big = train(tiny_config(batch_size=16, **common), tmp_path / "big")
    accumulated = train(tiny_config(batch_size=8, accum_steps=2, **common), tmp_path / "accum")
    uncached = train(tiny_config(batch_size=16, text_cache=False, **common), tmp_path / "nocache")
    reference = final_weights(tmp_path / "big")
    assert max_difference(final_weights(tmp_path / "accum"), reference) <= 1e-5
    assert max_difference(final_weights(tmp_path / "nocache"), reference) == 0
    assert [h["loss"] for h in accumulated.history] == pytest.approx([h["loss"] for h in big.history], abs=1e-5)
    assert uncached.history[-1]["text_cache_hit_rate"] == 0


def _bad_clips(clip, members):
    if clip.id == "clip0001":
        return {**members, "video.mp4": b"\x00\x00\x00\x18ftypmp42 not really a video"}
    if clip.id == "clip0003":
        return {k: v for k, v in members.items() if not k.startswith("depth.")}
    if clip.id == "clip0005":
        return {**members, "json": json.dumps({"id": clip.id, "text": {"raw": "#shorts #viral"}}).encode()}
    return members


@pytest.mark.parametrize(("modality", "bad"), [("video", {"clip0001", "clip0005"}),
                                               ("depth", {"clip0003", "clip0005"})])
def test_bad_shard_samples_are_skipped_and_counted(tmp_path: Path, modality: str, bad: set[str]) -> None:
    write_shards(tmp_path / "shards", make_clips(12), 12, modalities=("video", "depth"), edit=_bad_clips)
    cfg = tiny_config(modality=modality, train_data=str(tmp_path / "shards"), batch_size=5, max_steps=2,
                      shuffle_buffer=0, save_every=2)
    result = train(cfg, tmp_path / "run")
    assert sum(h["skipped"] for h in result.history) == 2
    logged = [json.loads(line) for line in (tmp_path / "run" / "skipped.jsonl").read_text().splitlines()]
    assert {entry["id"] for entry in logged} == bad
    reasons = " ".join(entry["reason"] for entry in logged)
    assert "no usable text" in reasons and ("cannot decode" in reasons or "no depth" in reasons)


def test_all_bad_data_stops_with_a_clear_error(tmp_path: Path) -> None:
    write_shards(tmp_path / "shards", make_clips(4), 4, edit=lambda c, m: {**m, "image.jpg": b"garbage"})
    with pytest.raises(DataError, match="in a row could not be loaded"):
        train(tiny_config(train_data=str(tmp_path / "shards"), batch_size=2), tmp_path / "run")


def test_python_entry_trains_from_memory_with_a_shared_text_cache(tmp_path: Path) -> None:
    from languagebind.data import MemoryRecords
    from languagebind.model.presets import tiny_config as model_config
    from languagebind.pretrained import random_model

    colours = torch.eye(3)[torch.arange(24) % 3]  # three classes: a red, green or blue square
    pixels = colours[:, :, None, None].expand(24, 3, 32, 32).contiguous()
    names = [f"a {['red', 'green', 'blue'][i % 3]} square" for i in range(24)]
    shared: dict[str, torch.Tensor] = {}
    seen = []
    for modality in ("image", "thermal"):
        model = random_model(model_config(modality), seed=0).model
        cfg = tiny_config(modality=modality, train_data=MemoryRecords(modality, pixels, names), max_steps=5,
                          save_every=5)
        result = train(cfg, tmp_path / modality, model=model, text_cache=shared, on_step=seen.append)
        assert result.model is model and len(result.history) == 5
    assert set(shared) == set(names)
    assert [h["step"] for h in seen] == [1, 2, 3, 4, 5] * 2
    assert seen[5]["text_cache_hit_rate"] == 1.0  # the second tower found every caption cached
