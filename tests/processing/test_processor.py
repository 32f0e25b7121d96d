"""The processor front door: one builder for all modalities, batches, config validation, errors naming the item."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from languagebind.errors import ConfigError, InputError
from languagebind.processing import ProcessorConfig, build_processor
from languagebind.registry import modality_names

SAMPLES = {"image": "image/0.jpg", "thermal": "thermal/0.jpg", "depth": "depth/0.png", "audio": "audio/0.wav",
           "video": "video/0.mp4"}


def test_every_modality_builds_and_loads(assets: Path) -> None:
    assert set(SAMPLES) <= set(modality_names())
    for modality in SAMPLES:
        processor = build_processor(modality, ProcessorConfig())
        out = processor.load(assets / SAMPLES[modality])
        assert tuple(out.shape) == processor.output_shape() and out.dtype == torch.float32
        assert torch.isfinite(out).all()


def test_geometry_comes_from_the_config(assets: Path) -> None:
    cfg = ProcessorConfig(image_size=112, num_frames=4, num_mel_bins=64, target_length=512)
    assert build_processor("image", cfg).load(assets / "image" / "0.jpg").shape == (3, 112, 112)
    assert build_processor("audio", cfg).load(assets / "audio" / "0.wav").shape == (3, 64, 512)
    assert build_processor("video", cfg).output_shape() == (3, 4, 112, 112)


def test_batch_errors_name_the_bad_item(assets: Path, tmp_path: Path) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_text("nope")
    with pytest.raises(InputError) as err:
        build_processor("image")([assets / "image" / "0.jpg", bad])
    assert err.value.item == bad and "broken.jpg" in str(err.value)


@pytest.mark.parametrize("items", [[], "a.jpg", Path("a.jpg"), 5, None])
def test_batch_needs_a_non_empty_list(items: object) -> None:
    with pytest.raises(InputError):
        build_processor("image")(items)


def test_unknown_modality() -> None:
    with pytest.raises(InputError, match="unknown modality"):
        build_processor("smell")


@pytest.mark.parametrize("changes", [{"image_size": 0}, {"num_frames": -1}, {"num_mel_bins": 3}, {"max_depth": -1},
                                     {"std": (1.0, 0.0, 1.0)}, {"mean": (0.5,)}, {"sample_rate": 0}])
def test_invalid_config(changes: dict) -> None:
    with pytest.raises(ConfigError):
        ProcessorConfig(**changes)


def test_config_is_frozen() -> None:
    with pytest.raises(AttributeError):
        ProcessorConfig().image_size = 336  # type: ignore[misc]
