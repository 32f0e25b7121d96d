"""Depth: 16-bit PNG in mm and arrays in metres -> the official DepthNorm and image transform."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from languagebind.errors import InputError
from languagebind.processing import OPENAI_MEAN, OPENAI_STD, ProcessorConfig, build_processor
from languagebind.processing.depth import depth_to_unit, read_depth_metres
from languagebind.processing.image import ImageLimits

LIMITS = ImageLimits(100_000_000, 100.0)


def test_sample_values_and_range(assets: Path) -> None:
    metres = read_depth_metres(assets / "depth" / "0.png", LIMITS)
    raw = np.asarray(Image.open(assets / "depth" / "0.png"))
    assert raw.dtype == np.uint16 and metres.dtype == np.float32
    assert np.array_equal(metres, raw.astype(np.float32) / 1000.0)
    unit = depth_to_unit(metres, 10.0)
    assert unit.shape == (3, *raw.shape) and torch.equal(unit[0], unit[2])
    assert abs(unit.min().item() - raw.min() / 10000) < 1e-7 and abs(unit.max().item() - raw.max() / 10000) < 1e-7


def test_clipping_and_max_depth_zero() -> None:
    metres = np.array([[0.0, 0.005, 5.0, 25.0]], dtype=np.float32)
    assert depth_to_unit(metres, 10.0)[0, 0].tolist() == pytest.approx([0.001, 0.001, 0.5, 1.0])
    assert depth_to_unit(metres, 0)[0, 0].tolist() == pytest.approx([0.01 / 25, 0.01 / 25, 0.2, 1.0])


def test_assets_shape_determinism_and_normalisation(assets: Path) -> None:
    items = sorted((assets / "depth").glob("*.png"))
    processor = build_processor("depth")
    out = processor(items)
    assert out.shape == (2, 3, 224, 224) and torch.equal(out, processor(items))
    # every channel holds the same depth, normalised with that channel's OpenAI constants
    unit = [(out[:, c] * OPENAI_STD[c] + OPENAI_MEAN[c]) for c in range(3)]
    assert torch.allclose(unit[0], unit[1], atol=1e-6) and torch.allclose(unit[0], unit[2], atol=1e-6)
    assert unit[0].min() > 0.0 and unit[0].max() < 0.6  # samples: 0.778 .. 5.206 m of 10 m (bicubic overshoot)


def test_npy_metres_and_arrays_equal_png_mm(assets: Path, tmp_path: Path) -> None:
    png = assets / "depth" / "1.png"
    metres = np.asarray(Image.open(png)).astype(np.float32) / 1000.0
    np.save(tmp_path / "d.npy", metres)
    processor = build_processor("depth")
    expected = processor.load(png)
    for item in (tmp_path / "d.npy", metres, metres[None], torch.from_numpy(metres), Image.open(png)):
        assert torch.equal(processor.load(item), expected)


def test_max_depth_from_config(assets: Path) -> None:
    near = build_processor("depth", ProcessorConfig(max_depth=2.0)).load(assets / "depth" / "0.png")
    far = build_processor("depth").load(assets / "depth" / "0.png")
    assert not torch.equal(near, far)


def test_bad_depth_inputs(assets: Path, tmp_path: Path) -> None:
    Image.new("L", (8, 8), 40).save(tmp_path / "eight_bit.png")
    np.save(tmp_path / "nan.npy", np.full((4, 4), np.nan, np.float32))
    np.save(tmp_path / "neg.npy", -np.ones((4, 4), np.float32))
    np.save(tmp_path / "cube.npy", np.ones((2, 4, 4), np.float32))
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY garbage")
    processor = build_processor("depth")
    cases = {tmp_path / "eight_bit.png": "16-bit", assets / "image" / "0.jpg": "16-bit", tmp_path / "nan.npy": "NaN",
             tmp_path / "neg.npy": "negative", tmp_path / "cube.npy": "2-D", tmp_path / "bad.npy": "cannot decode",
             assets / "audio" / "0.wav": "cannot decode", tmp_path / "none.png": "not found"}
    for item, reason in cases.items():
        with pytest.raises(InputError, match=reason) as err:
            processor.load(item)
        assert err.value.item == item
    with pytest.raises(InputError, match="expected"):
        processor.load(12)
