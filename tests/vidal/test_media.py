from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile
from PIL import Image

from languagebind.processing.encode import encode_npy
from languagebind.processing.image import short_side_size
from languagebind.vidal import media
from languagebind.vidal.operators import Operator
from languagebind.vidal.sample import InputItem, Rejected, Sample
from languagebind.vidal.stages_media import AudioTrack, Keyframes, ProbeFilter
from tests.vidal.videos import write_video


def test_probe_reports_each_broken_kind(small_corpus: tuple[Path, dict[str, str]]) -> None:
    root, expected = small_corpus
    for name, reason in expected.items():
        if reason in ("ok", "no_hashtags"):
            info = media.probe(str(root / f"{name}.mp4"), max_duration=20)
            assert info.frames >= 6 and info.duration <= 20
            continue
        with pytest.raises(Rejected) as caught:
            media.probe(str(root / f"{name}.mp4"), max_duration=20)
        assert caught.value.code == reason, name
    with pytest.raises(Rejected, match="missing_file"):
        media.probe(str(root / "nope.mp4"))


def test_keyframe_positions() -> None:
    assert media.keyframe_indices(100, 8) == [0, 14, 28, 42, 56, 70, 84, 99]
    assert media.keyframe_indices(100, 8, "official") == [0, 12, 24, 36, 48, 60, 72, 84]
    assert media.keyframe_indices(5, 8) == [0, 0, 1, 1, 2, 2, 3, 4]
    with pytest.raises(ValueError):
        media.keyframe_indices(5, 8, "random")


def test_short_side_sizes_are_even() -> None:
    assert short_side_size(48, 64, 256, even=True) == (256, 342)  # (height, width)
    assert short_side_size(64, 48, 256, even=True) == (342, 256)
    assert short_side_size(1920, 1080, 256, even=True) == (456, 256)


def _sample(path: Path, title: str = "a dog on a boat", tags: tuple[str, ...] = ("dog",)) -> Sample:
    return Sample(InputItem(0, path.stem, str(path), path.name, title, tags))


def _ready(op: Operator) -> Operator:
    op.ensure_setup()
    return op


def test_probe_keyframes_audio_stages(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", frames=12, size=(64, 48), seed=1)
    sample = _sample(video)
    for op in (ProbeFilter(min_side=16), Keyframes(), AudioTrack()):
        _ready(op).process([sample])
    info = sample.fields["info"]
    assert (info.width, info.height, info.frames, info.has_audio) == (64, 48, 12, True)
    assert sample.fields["keyframe_indices"] == [0, 1, 3, 4, 6, 7, 9, 11]
    assert [f.shape for f in sample.fields["keyframes"]] == [(256, 342, 3)] * 8
    audio = sample.fields["audio"]
    assert audio.dtype == np.float32 and audio.ndim == 1 and abs(len(audio) - 16000 * 1.2) < 2048
    # Keyframe k is frame keyframe_indices[k] of the source, resized.
    found, decoded = media.decode_frames(str(video), [11])
    assert decoded == 12
    expected = media.resize(found[11], (342, 256))
    assert np.array_equal(sample.fields["keyframes"][7], expected)


def test_probe_stage_rejects_by_rules(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", frames=6, size=(32, 24), audio=False)
    with pytest.raises(Rejected, match="too_small"):
        _ready(ProbeFilter(min_side=64)).process([_sample(video)])
    with pytest.raises(Rejected, match="no_hashtags"):
        _ready(ProbeFilter(min_side=16)).process([_sample(video, tags=("shorts",))])
    with pytest.raises(Rejected, match="too_short"):
        _ready(ProbeFilter(min_side=16, min_duration=5)).process([_sample(video)])


def test_encoders_are_deterministic_and_lossless_where_needed() -> None:
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (64, 96, 3), dtype=np.uint8) for _ in range(8)]
    clip = media.encode_mp4(frames)
    assert clip == media.encode_mp4(frames)
    with av.open(io.BytesIO(clip)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == 8 and decoded[0].shape == (64, 96, 3)
    depth = rng.integers(0, 10000, (48, 64)).astype(np.uint16)
    png = media.encode_png16(depth)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), depth)
    assert np.array_equal(np.load(io.BytesIO(encode_npy(depth))), depth)
    tone = np.sin(np.linspace(0, 100, 16000)).astype(np.float32) * 0.5
    wav, rate = soundfile.read(io.BytesIO(media.encode_wav(tone, 16000)))
    assert rate == 16000 and np.abs(wav - tone).max() < 1e-4


def test_resized_video_keeps_every_frame(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", frames=9, size=(64, 48), audio=False)
    data = media.transcode_short_side(str(video), 32)
    with av.open(io.BytesIO(data)) as container:
        frames = [f for f in container.decode(video=0)]
    assert len(frames) == 9 and (frames[0].width, frames[0].height) == (42, 32)
    assert data == media.transcode_short_side(str(video), 32)
