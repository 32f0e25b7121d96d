"""Image and thermal: official numerics (fixture pixel_values), mode conversion, geometry, limits, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from languagebind.errors import InputError
from languagebind.processing import ProcessorConfig, build_processor
from languagebind.processing.image import center_crop, short_side_size, to_rgb

from .helpers import png_header_only


def test_pixel_values_match_official_fixture(assets: Path, fixture_dir: Path) -> None:
    expected = torch.from_numpy(np.load(fixture_dir / "inputs.npz")["pixel_values"])
    got = build_processor("image")([assets / "image" / "0.jpg", str(assets / "image" / "1.jpg")])
    assert got.shape == (2, 3, 224, 224) and got.dtype == torch.float32
    assert (got - expected).abs().max() <= 1e-5


@pytest.mark.parametrize("modality", ["image", "thermal"])
def test_assets_shape_and_determinism(assets: Path, modality: str) -> None:
    items = sorted((assets / modality).glob("*.jpg"))
    processor = build_processor(modality)
    first, second = processor(items), processor(items)
    assert first.shape == (len(items), 3, 224, 224) and torch.equal(first, second)
    assert torch.equal(first[1], processor.load(items[1]))


def test_output_size_rule_and_round_half_even_crop() -> None:
    assert short_side_size(453, 256, 224) == (396, 224)  # H x W, long side truncated
    assert short_side_size(256, 456, 224) == (224, 399)
    x = torch.arange(399.0)[None, :, None].expand(1, 399, 300)
    assert center_crop(x, 224)[0, 0, 0] == 88  # (399 - 224) / 2 = 87.5 -> 88
    assert center_crop(torch.arange(396.0)[None, :, None].expand(1, 396, 300), 224)[0, 0, 0] == 86


def test_pil_object_equals_file(assets: Path) -> None:
    processor = build_processor("image")
    path = assets / "image" / "0.jpg"
    with Image.open(path) as image:
        assert torch.equal(processor.load(image), processor.load(path))


def test_grey_image_equals_its_rgb_copy(tmp_path: Path) -> None:
    grey = Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 60), dtype=np.uint8), "L")
    grey.save(tmp_path / "g.png")
    grey.convert("RGB").save(tmp_path / "rgb.png")
    processor = build_processor("image")
    assert torch.equal(processor.load(tmp_path / "g.png"), processor.load(tmp_path / "rgb.png"))


def test_alpha_is_composited_on_white() -> None:
    rgba = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert np.asarray(to_rgb(rgba, "x")).min() == 255
    half = Image.new("LA", (2, 2), (0, 128))
    assert abs(int(np.asarray(to_rgb(half, "x"))[0, 0, 0]) - 127) <= 1


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGBA", "CMYK", "I;16", "I", "YCbCr"])
def test_every_common_mode_is_converted(mode: str) -> None:
    image = Image.new(mode, (30, 20))
    if mode == "P":
        image.info["transparency"] = 0
    out = build_processor("thermal").load(image)
    assert out.shape == (3, 224, 224) and torch.isfinite(out).all()


def test_sixteen_bit_grey_is_scaled_to_eight_bits() -> None:
    image = Image.fromarray(np.array([[0, 257 * 100, 65535]], dtype=np.uint16))
    assert np.asarray(to_rgb(image, "x"))[0, :, 0].tolist() == [0, 100, 255]


def test_exif_orientation_is_not_applied(tmp_path: Path) -> None:
    array = np.random.default_rng(1).integers(0, 256, (30, 50, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW" -- the official code ignores it, so do we
    Image.fromarray(array).save(tmp_path / "rot.png", exif=exif)
    Image.fromarray(array).save(tmp_path / "plain.png")
    processor = build_processor("image")
    assert torch.equal(processor.load(tmp_path / "rot.png"), processor.load(tmp_path / "plain.png"))


def test_tiny_and_panorama_images_work() -> None:
    processor = build_processor("image")
    assert processor.load(Image.new("RGB", (1, 1), (10, 20, 30))).shape == (3, 224, 224)
    assert processor.load(Image.new("RGB", (900, 100))).shape == (3, 224, 224)


def test_size_limits(tmp_path: Path, assets: Path) -> None:
    for width, height in ((12000, 9000), (20000, 20000)):  # over our 100 MP limit; over PIL's bomb limit
        with pytest.raises(InputError, match="too large") as err:
            build_processor("image").load(png_header_only(tmp_path / "huge.png", width, height))
        assert "huge.png" in str(err.value)
    small_limit = build_processor("image", ProcessorConfig(max_image_pixels=1000))
    with pytest.raises(InputError, match="max_image_pixels"):
        small_limit.load(assets / "image" / "0.jpg")
    with pytest.raises(InputError, match="aspect ratio"):
        build_processor("image").load(Image.new("RGB", (2000, 10)))


def test_bad_files(tmp_path: Path, assets: Path) -> None:
    data = (assets / "image" / "0.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("not an image")
    (tmp_path / "float.tif").write_bytes(b"")
    Image.new("F", (4, 4)).save(tmp_path / "float.tif")
    processor = build_processor("image")
    cases = {tmp_path / "cut.jpg": "truncated", tmp_path / "empty.jpg": "empty", tmp_path / "text.jpg": "cannot decode",
             assets / "audio" / "0.wav": "audio", assets / "video" / "0.mp4": "video", tmp_path: "directory",
             tmp_path / "missing.jpg": "not found", tmp_path / "float.tif": "float"}
    for item, reason in cases.items():
        with pytest.raises(InputError, match=reason) as err:
            processor.load(item)
        assert err.value.item == item


@pytest.mark.parametrize("bad", [3, 2.5, {"a": 1}, b"bytes", np.zeros((4, 4, 3), np.uint8)])
def test_wrong_types(bad: object) -> None:
    with pytest.raises(InputError, match="expected"):
        build_processor("image").load(bad)
