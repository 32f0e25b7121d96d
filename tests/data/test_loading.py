"""Sample loading over real (tiny) media in all three formats: processor parity, frame pinning, augmentation."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch

from languagebind.data.augment import AugmentConfig, augment_item, crop_window
from languagebind.data.pairs import PairLoader
from languagebind.data.records import MemoryRecords
from languagebind.data.shards import iter_shard, shard_record
from languagebind.data.sources import iter_samples, open_source
from languagebind.data.text import TextSampler
from languagebind.errors import InputError
from languagebind.processing import ProcessorConfig, build_processor
from tests.data.helpers import make_clips, write_manifest, write_shards, write_vidal

CFG = ProcessorConfig(image_size=32, num_frames=4, num_mel_bins=16, target_length=48)
RNG = np.random.default_rng


def eval_loader(modality: str, texts: str = "mix") -> PairLoader:
    return PairLoader(modality, CFG, TextSampler.from_spec(texts), train=False)


@pytest.mark.parametrize("modality", ["image", "video", "audio", "depth", "thermal"])
def test_manifest_eval_equals_processor(tmp_path: Path, modality: str) -> None:
    path = write_manifest(tmp_path, make_clips(2), modalities=(modality,))
    record = open_source(path)[1]
    sample = eval_loader(modality)(record, RNG(0))
    source = record.sources[modality]
    expected = build_processor(modality, CFG).load(source[0] if isinstance(source, tuple) else source)
    assert torch.equal(sample.pixels, expected)
    assert sample.id == "clip0001" and sample.text.text == "my green thing, green"


@pytest.mark.parametrize("modality", ["image", "video", "audio", "depth", "thermal"])
def test_our_shards_equal_files(tmp_path: Path, modality: str) -> None:
    clips = make_clips(2)
    manifest = open_source(write_manifest(tmp_path / "m", clips, modalities=(modality,)))
    shards = open_source(str(write_shards(tmp_path / "s", clips, 2, modalities=(modality,))[0]))
    from_files = list(iter_samples(manifest, eval_loader(modality)))
    from_shards = list(iter_samples(shards, eval_loader(modality)))
    assert [s.id for s in from_shards] == ["clip0000", "clip0001"]
    for a, b in zip(from_files, from_shards, strict=True):
        assert torch.equal(a.pixels, b.pixels)


def test_official_shards_frames_and_depth_in_millimetres(tmp_path: Path) -> None:
    path = write_shards(tmp_path, make_clips(2), 2, layout="official", modalities=("video", "depth", "thermal"))[0]
    record = shard_record(list(iter_shard(path))[1])
    video = eval_loader("video")(record, RNG(0)).pixels
    assert video.shape == (3, 4, 32, 32)
    depth = eval_loader("depth")(record, RNG(0)).pixels
    metres = np.load(io.BytesIO(record.sources["depth"][0].data)) / 1000.0
    assert torch.equal(depth, build_processor("depth", CFG).load(metres))
    assert eval_loader("thermal", "polish_mplug")(record, RNG(0)).text.text == "a clip that is all green"


def test_vidal_keyframe_caption_pins_the_depth_frame(tmp_path: Path) -> None:
    annotation, root = write_vidal(tmp_path, make_clips(1), modalities=("depth",))
    record = open_source(annotation, root)[0]
    frames = record.sources["depth"]
    for k, frame in enumerate(frames):  # make each keyframe's depth distinct
        from PIL import Image
        Image.fromarray(np.full((40, 48), 500 + 1000 * k, dtype=np.uint16)).save(frame)
    loader = PairLoader("depth", CFG, TextSampler.from_spec("ofa"), AugmentConfig(flip=0.0))
    processor = build_processor("depth", CFG)
    for seed in range(6):
        sample = loader(record, RNG(seed))
        k = sample.text.keyframe
        assert sample.text.text == f"frame {k} is red"
        assert torch.allclose(sample.pixels, processor.load(frames[k]), atol=1e-5)  # the pinned frame k


def test_bad_items_raise_input_error(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, make_clips(2), modalities=("image",))
    (tmp_path / "image" / "clip0001.jpg").write_bytes(b"not a jpeg")
    records = open_source(path)
    with pytest.raises(InputError, match="cannot decode"):
        eval_loader("image")(records[1], RNG(0))
    with pytest.raises(InputError, match="no depth"):
        eval_loader("depth")(records[0], RNG(0))
    skipped: list = []
    assert [s.id for s in iter_samples(records, eval_loader("image"), skipped=skipped)] == ["clip0000"]
    assert skipped[0][0] == "clip0001"


def test_augmentation_is_seeded_and_shaped(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, make_clips(1), modalities=("video", "image"))
    record = open_source(path)[0]
    aug = AugmentConfig(crop_scale=(0.5, 1.0))
    for modality, shape in (("video", (3, 4, 32, 32)), ("image", (3, 32, 32))):
        item = record.sources[modality]
        a = augment_item(modality, item, CFG, aug, RNG(1))
        assert a.shape == shape and torch.equal(a, augment_item(modality, item, CFG, aug, RNG(1)))
        draws = [augment_item(modality, item, CFG, aug, RNG(s)) for s in range(6)]
        assert any(not torch.equal(draws[0], d) for d in draws[1:])
    flat = augment_item("image", record.sources["image"], CFG, AugmentConfig(flip=1.0), RNG(0))
    assert torch.equal(flat.flip(-1), augment_item("image", record.sources["image"], CFG, AugmentConfig(flip=0.0),
                                                   RNG(0)))
    top, left, side = crop_window(40, 48, (1.0, 1.0), RNG(0))
    assert side == 40 and top == 0 and 0 <= left <= 8


def test_audio_random_chunks_are_slices_of_the_full_spectrogram(tmp_path: Path) -> None:
    import soundfile

    path = tmp_path / "long.wav"  # noise, so that no two fbank frames are equal; 148 frames > 48
    soundfile.write(path, RNG(0).uniform(-0.5, 0.5, 24000).astype(np.float32), 16000)
    aug = AugmentConfig()
    chunks = augment_item("audio", path, CFG, aug, RNG(4))
    full = build_processor("audio", ProcessorConfig(num_mel_bins=16, target_length=148)).load(path)[0]
    starts = [next(s for s in range(148 - 48 + 1) if torch.equal(full[:, s:s + 48], c)) for c in chunks]
    assert starts[0] <= 33 < starts[1] <= 67 < starts[2]
    fixed = augment_item("audio", path, CFG, AugmentConfig(audio_chunks=False), RNG(4))
    assert torch.equal(fixed, build_processor("audio", CFG).load(path))


def test_memory_records_pass_tensors_through() -> None:
    pixels = torch.randn(3, 3, 32, 32)
    records = MemoryRecords("image", pixels, ["a", ["b", "c"], "d"])
    loader = PairLoader("image", CFG, TextSampler(), AugmentConfig(flip=1.0))
    sample = loader(records[1], RNG(0))
    assert torch.equal(sample.pixels, pixels[1].flip(-1)) and sample.text.text in ("b", "c")
    assert torch.equal(eval_loader("image")(records[0], RNG(0)).pixels, pixels[0])
