"""Video: decord-equal frame count and indices, PyAV frames, normalise-before-resize, no flip, bad input."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from languagebind.errors import InputError
from languagebind.processing import OPENAI_MEAN, OPENAI_STD, ProcessorConfig, build_processor
from languagebind.processing.image import ImageLimits
from languagebind.processing.video import frame_indices, read_video_frames, video_transform

from .helpers import write_video

LIMITS = ImageLimits(100_000_000, 100.0)


def decode_all(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def test_frame_indices_of_the_samples() -> None:
    assert frame_indices(245, 8).tolist() == [0, 34, 69, 104, 139, 174, 209, 244]
    assert frame_indices(269, 8).tolist() == [0, 38, 76, 114, 153, 191, 229, 268]
    assert frame_indices(3, 8).tolist() == [0, 0, 0, 0, 1, 1, 1, 2]  # short clips repeat frames


@pytest.mark.parametrize(("name", "count"), [("0.mp4", 245), ("1.mp4", 269)])
def test_sampled_frames_equal_full_decode(assets: Path, name: str, count: int) -> None:
    everything = decode_all(assets / "video" / name)
    assert len(everything) == count
    frames = read_video_frames(assets / "video" / name, 8, LIMITS, 3600)
    assert np.array_equal(frames, everything[frame_indices(count, 8)])


def test_transform_order_and_geometry(assets: Path) -> None:
    frames = read_video_frames(assets / "video" / "0.mp4", 8, LIMITS, 3600)
    assert frames.shape == (8, 720, 406, 3)
    out = video_transform(frames, 224, OPENAI_MEAN, OPENAI_STD)
    x = torch.from_numpy(frames).permute(3, 0, 1, 2) / 255.0
    mean, std = torch.tensor(OPENAI_MEAN)[:, None, None, None], torch.tensor(OPENAI_STD)[:, None, None, None]
    x = F.interpolate((x - mean) / std, size=(397, 224), mode="bilinear", align_corners=False)  # floor(720/406*224)
    assert torch.equal(out, x[..., 86 : 86 + 224, :])


def test_assets_batch_shape_determinism_and_no_flip(assets: Path) -> None:
    items = sorted((assets / "video").glob("*.mp4"))
    processor = build_processor("video")
    out = processor(items)
    assert out.shape == (2, 3, 8, 224, 224) and out.dtype == torch.float32
    assert torch.equal(out, processor(items))
    frames = read_video_frames(items[1], 8, LIMITS, 3600)
    assert torch.equal(out[1], video_transform(frames, 224, OPENAI_MEAN, OPENAI_STD))


def test_in_memory_frames_and_short_clips(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 48, 64, 3), dtype=np.uint8)
    processor = build_processor("video", ProcessorConfig(num_frames=4, image_size=32))
    out = processor.load(frames)
    assert out.shape == (3, 4, 32, 32)
    assert torch.equal(out[:, 0], out[:, 1])  # linspace(0, 2, 4) -> [0, 0, 1, 2]
    path = write_video(tmp_path / "short.mp4", frames)
    decoded = decode_all(path)
    assert torch.equal(processor.load(path), processor.load(decoded))
    assert torch.equal(processor.load(torch.from_numpy(decoded)), processor.load(decoded))


def test_bad_video(assets: Path, tmp_path: Path) -> None:
    data = (assets / "video" / "0.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[:300_000])
    (tmp_path / "tail.mp4").write_bytes(data[-300_000:])
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("not a video")
    processor = build_processor("video")
    cases = {tmp_path / "cut.mp4": "truncated", tmp_path / "tail.mp4": "cannot decode", tmp_path / "empty.mp4": "empty",
             tmp_path / "text.mp4": "cannot decode", assets / "image" / "0.jpg": "still image",
             assets / "audio" / "0.wav": "no video stream", tmp_path / "nope.mp4": "not found", tmp_path: "directory"}
    for item, reason in cases.items():
        with pytest.raises(InputError, match=reason) as err:
            processor.load(item)
        assert err.value.item == item
    with pytest.raises(InputError, match="too long"):
        build_processor("video", ProcessorConfig(max_video_seconds=5)).load(assets / "video" / "0.mp4")
    with pytest.raises(InputError, match="too large"):
        build_processor("video", ProcessorConfig(max_image_pixels=100_000)).load(assets / "video" / "0.mp4")
    for bad in (np.zeros((0, 8, 8, 3), np.uint8), np.zeros((2, 8, 8, 3), np.float32), np.zeros((8, 8, 3), np.uint8), 7):
        with pytest.raises(InputError, match=r"expected|uint8"):
            processor.load(bad)
