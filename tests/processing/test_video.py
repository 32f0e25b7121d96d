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


def test_long_clips_seek_to_keyframes_and_give_the_same_frames(tmp_path: Path) -> None:
    from languagebind.processing import video

    texture = np.random.default_rng(0).integers(0, 12, size=(1, 32, 32, 3))
    frames = (np.arange(240)[:, None, None, None] + texture).astype(np.uint8)  # frame t's mean is t + 5.5
    path = tmp_path / "long.mp4"
    with av.open(str(path), "w") as container:  # H.264 with a keyframe every 12 frames and B-frames
        stream = container.add_stream("libx264", rate=24, options={"g": "12", "keyint_min": "12", "bf": "2"})
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for array in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")))
        container.mux(stream.encode(None))
    index = video._index_stream(path, path, ImageLimits(10**8, 100.0), 3600.0)
    assert index.count == 240 and index.keyframes is not None and len(index.keyframes) >= 20
    wanted = frame_indices(index.count, 8)
    plan = video.seek_plan(index, wanted.tolist())
    assert plan is not None and sorted(p for group in plan.values() for p in group) == sorted(set(wanted.tolist()))
    sought, _ = video._decode_at(path, wanted, index)
    in_order, _ = video._decode_in_order(path, wanted)
    assert sought.keys() == in_order.keys() and all(np.array_equal(sought[k], in_order[k]) for k in sought)
    assert [sought[k].mean() - 5.5 for k in sorted(sought)] == pytest.approx(wanted.tolist(), abs=2)
    # a short clip (the 8 wanted frames span few keyframes) is decoded in order
    assert video.seek_plan(index, list(range(0, 16, 2))) is None
    processed = build_processor("video", ProcessorConfig(image_size=32)).load(path)
    assert torch.equal(processed, video_transform(np.stack([in_order[i] for i in wanted]), 32, OPENAI_MEAN,
                                                  OPENAI_STD))
