"""benchmarks/official_style.py (the benchmark's official-style fp32 baseline) computes our towers' function:
with our weights copied in, its embeddings equal ours on the tiny presets of every kind of tower."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from languagebind.api import LanguageBind
from languagebind.model.config import to_official
from languagebind.model.presets import tiny_config

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
official_style = pytest.importorskip("official_style")


@pytest.mark.parametrize(("modality", "lora"), [("image", 0), ("depth", 2), ("audio", 0), ("video", 0)])
def test_baseline_equals_our_fp32_towers(modality: str, lora: int) -> None:
    config = tiny_config(modality, lora_r=lora)
    ours = LanguageBind.from_config(config, seed=2)
    with torch.no_grad():
        for name, param in ours.model.named_parameters():
            if name.endswith("lora_B"):
                param.normal_(0, 0.05)
    official = to_official(config)
    vision = official_style.OfficialStyleVision(official).eval()
    official_style.load_ours(vision, ours.tower(modality).state_dict())
    vis = config.vision
    shape = (3, 3, *((vis.num_frames,) if modality == "video" else ()), *vis.image_size)
    pixels = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected = ours.encode(modality, pixels)
        got = torch.nn.functional.normalize(vision(pixels), dim=-1)
    torch.testing.assert_close(got, expected, rtol=0, atol=2e-5)


def test_baseline_text_equals_our_text_tower() -> None:
    config = tiny_config("image")
    ours = LanguageBind.from_config(config, seed=2)
    text = official_style.OfficialStyleText(to_official(config)).eval()
    official_style.load_ours(text, ours.model.text.state_dict())
    texts = ["a dog", "a photograph of two cats sleeping on a red sofa"]
    tokens = ours.tokenize(texts)  # padded to 77 as the official tokenizer does
    with torch.inference_mode():
        got = torch.nn.functional.normalize(text(tokens["input_ids"], tokens["attention_mask"]), dim=-1)
    torch.testing.assert_close(got, ours.encode("text", texts), rtol=0, atol=2e-5)
