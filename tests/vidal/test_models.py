"""Each model stage on the tiny stand-ins: real loading (from_pretrained / the sRGB-TIR layout) and inference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from languagebind.data.titles import Title
from languagebind.errors import ConfigError
from languagebind.vidal.captions import KeyframeCaptions, VideoCaption, frame_grid
from languagebind.vidal.depth import DepthEstimation
from languagebind.vidal.munit import AdaINGen
from languagebind.vidal.polish import Polish, clean_answer, rule_captions
from languagebind.vidal.sample import InputItem, Sample
from languagebind.vidal.thermal import ThermalTranslation


def _samples(count: int = 2, shape: tuple[int, int] = (40, 52)) -> list[Sample]:
    rng = np.random.default_rng(0)
    samples = []
    for index in range(count):
        sample = Sample(InputItem(index, f"clip{index}", "x.mp4", "x.mp4", "A dog on a boat", ("dog",)))
        sample.fields["keyframes"] = [rng.integers(0, 255, (*shape, 3), dtype=np.uint8) for _ in range(8)]
        sample.fields["text"] = Title("A dog on a boat", ("dog", "sea"))
        samples.append(sample)
    return samples


def _run(op, samples: list[Sample]) -> list[Sample]:
    op.ensure_setup()
    op.process(samples)
    return samples


@pytest.mark.parametrize(("name", "kind"), [("depth-glpn", "metric"), ("depth-dpt", "relative"),
                                            ("depth-anything-metric", "metric")])
def test_depth_models(tiny_models: Path, name: str, kind: str) -> None:
    samples = _run(DepthEstimation(model=str(tiny_models / name), batch_size=2), _samples())
    for sample in samples:
        maps = sample.fields["depth"]
        assert len(maps) == 8 and all(m.shape == (40, 52) and m.dtype == np.uint16 for m in maps)
        assert all(int(m.max()) <= 10000 for m in maps)
        assert sample.fields["depth_kind"] == kind == sample.meta["depth_kind"]
    again = _run(DepthEstimation(model=str(tiny_models / name)), _samples())
    assert all(np.array_equal(a, b) for a, b in zip(samples[0].fields["depth"], again[0].fields["depth"],
                                                    strict=True))


def test_depth_input_resize_and_mixed_sizes(tiny_models: Path) -> None:
    samples = _samples(1) + _samples(1, shape=(64, 48))
    _run(DepthEstimation(model=str(tiny_models / "depth-glpn"), input_short_side=32, batch_size=2), samples)
    assert samples[0].fields["depth"][0].shape == (40, 52) and samples[1].fields["depth"][0].shape == (64, 48)


def test_missing_model_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        DepthEstimation(model=str(tmp_path / "nothing")).ensure_setup()


def test_thermal_is_deterministic_one_style_per_video(tiny_models: Path) -> None:
    op = ThermalTranslation(model=str(tiny_models / "thermal-munit"), input_short_side=32)
    first = _run(op, _samples())
    second = _run(ThermalTranslation(model=str(tiny_models / "thermal-munit"), input_short_side=32), _samples())
    frames = first[0].fields["thermal"]
    assert len(frames) == 8 and frames[0].shape == (40, 52, 3) and frames[0].dtype == np.uint8
    assert all(np.array_equal(a, b) for a, b in zip(frames, second[0].fields["thermal"], strict=True))
    assert torch.equal(op.style_code("clip0"), op.style_code("clip0"))
    assert not torch.equal(op.style_code("clip0"), op.style_code("clip1"))


def test_munit_weights_load_strictly_and_eval_equals_the_official_train_mode(tiny_models: Path) -> None:
    """Our generator in eval mode computes what the original MUNIT modules compute in train mode."""
    state = torch.load(tiny_models / "thermal-munit" / "translation_weights.pt", weights_only=True)
    assert any(k.endswith("norm.running_mean") for k in state["a"])
    op = ThermalTranslation(model=str(tiny_models / "thermal-munit"))
    op.ensure_setup()
    generator = op._generator
    images = torch.rand(2, 3, 32, 48) * 2 - 1
    style = torch.randn(2, 8)
    ours = generator.translate(images, style)
    reference = _reference_munit(generator.encoder, generator.decoder, images, style)
    torch.testing.assert_close(ours, reference)


def _reference_munit(encoder: AdaINGen, decoder: AdaINGen, images: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """The original's forward written out: instance norm with batch statistics (train mode), AdaIN assigned
    layer by layer from the MLP output (mean, then std)."""
    import torch.nn.functional as F

    from languagebind.vidal.munit import AdaptiveInstanceNorm2d, Conv2dBlock, InstanceNorm, LayerNorm

    def block(b: Conv2dBlock, x: torch.Tensor, params: list[torch.Tensor]) -> torch.Tensor:
        x = b.conv(b.pad(x))
        if isinstance(b.norm, InstanceNorm):
            x = F.batch_norm(x.reshape(1, -1, *x.shape[2:]), None, None, training=True).reshape(x.shape)
        elif isinstance(b.norm, AdaptiveInstanceNorm2d):
            p = params.pop(0)
            n = b.norm.num_features
            mean, std = p[:, :n].reshape(-1), p[:, n:].reshape(-1)
            x = F.batch_norm(x.reshape(1, -1, *x.shape[2:]), None, None, std, mean, True).reshape(x.shape)
        elif isinstance(b.norm, LayerNorm):
            x = b.norm(x)
        return b.activation(x) if b.activation is not None else x

    def run(seq: torch.nn.Module, x: torch.Tensor, params: list[torch.Tensor]) -> torch.Tensor:
        for module in seq.model:
            if isinstance(module, Conv2dBlock):
                x = block(module, x, params)
            elif hasattr(module, "model") and isinstance(module.model, torch.nn.Sequential):  # ResBlocks
                for res in module.model:
                    out = x
                    for b in res.model:
                        out = block(b, out, params)
                    x = out + x
            else:
                x = module(x)
        return x

    content = run(encoder.enc_content, images, [])
    flat = decoder.mlp(style)
    sizes = [2 * m.num_features for m in decoder.dec.modules() if isinstance(m, AdaptiveInstanceNorm2d)]
    params = list(torch.split(flat, sizes, dim=1))
    return run(decoder.dec, content, params)


def test_keyframe_captions(tiny_models: Path) -> None:
    samples = _run(KeyframeCaptions(model=str(tiny_models / "caption-blip"), num_beams=2, max_new_tokens=6),
                   _samples())
    captions = samples[0].fields["keyframe_captions"]
    assert len(captions) == 8 and all(isinstance(c, str) and c for c in captions)


@pytest.mark.parametrize("mode", ["chat", "frame_grid"])
def test_video_caption_modes(tiny_models: Path, mode: str) -> None:
    model = tiny_models / ("video-llava" if mode == "chat" else "caption-blip")
    samples = _run(VideoCaption(model=str(model), mode=mode, max_new_tokens=8, batch_size=2), _samples())
    assert all(s.fields["video_caption"] for s in samples)
    assert samples[0].meta["video_caption_model"].startswith(model.name)


def test_frame_grid_layout() -> None:
    frames = [np.full((20, 30, 3), k, np.uint8) for k in range(8)]
    grid = frame_grid(frames, (2, 4), 10)
    assert grid.shape == (20, 60, 3)
    assert grid[0, 0, 0] == 0 and grid[0, 15, 0] == 1 and grid[15, 59, 0] == 7


def test_polish_with_the_tiny_lm_and_with_rules(tiny_models: Path) -> None:
    samples = _samples()
    samples[0].fields["video_caption"] = "a dog dog jumps off a boat"
    _run(Polish(model=str(tiny_models / "polish-lm"), backend="transformers", max_new_tokens=8), samples)
    assert all(s.fields["polished_caption"] and s.fields["sound_caption"] for s in samples)
    assert samples[0].meta["polish_model"].endswith("via transformers")
    ruled = _run(Polish(), _samples())
    assert ruled[0].fields["polished_caption"] == "A dog on a boat."
    assert rule_captions(samples[0]) == ("A dog jumps off a boat.", "The sounds of a dog jumps off a boat.")
    with pytest.raises(ConfigError):
        Polish(backend="transformers")


def test_clean_answer() -> None:
    assert clean_answer('Sure! Caption: "In the video, a dog surfs."\n\nMore text') == "A dog surfs."
    assert clean_answer("   ") == ""


def test_video_frames_need_a_video_processor(tiny_models: Path) -> None:
    with pytest.raises(ConfigError, match="takes no videos"):
        VideoCaption(model=str(tiny_models / "video-llava"), frames_as="video").ensure_setup()
