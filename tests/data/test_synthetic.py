"""VIDAL-mini generator: determinism, file formats, splits, captions and the three training readers."""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from languagebind.data.synthetic import (
    MODALITIES,
    PERCEIVES,
    SyntheticConfig,
    attributes_match,
    caption,
    caption_labels,
    generate,
    perceives,
    zero_shot_labels,
)
from languagebind.data.synthetic.scene import sample_scene
from languagebind.data.synthetic.sound import event_times
from languagebind.data.synthetic.vocab import COLOURS, DIRECTIONS, SIZES
from languagebind.errors import ConfigError, InputError

SPLIT_NAMES = ("train", "val", "test", "compositional")
CONFIG = SyntheticConfig.tiny(seed=0, official_layout=True)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory):
    """The tiny dataset, rendered by two worker processes."""
    return generate(tmp_path_factory.mktemp("vidal-mini"), CONFIG, workers=2)


def records(split_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (split_dir / "manifest.jsonl").read_text().splitlines()]


def decode_video(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


# -- determinism ---------------------------------------------------------------------------------------
def test_same_seed_gives_identical_bytes_in_any_process_layout(dataset, tmp_path: Path) -> None:
    again = generate(tmp_path / "again", CONFIG, workers=0)  # rendered in this process
    for split in SPLIT_NAMES:
        a, b = dataset[split], again[split]
        assert a.manifest.read_bytes() == b.manifest.read_bytes()
        assert a.official_annotation.read_bytes() == b.official_annotation.read_bytes()
        assert [p.read_bytes() for p in a.shards] == [p.read_bytes() for p in b.shards]
    first = records(dataset["test"].path)[0]
    np.testing.assert_array_equal(decode_video(dataset["test"].path / first["video"]),
                                  decode_video(again["test"].path / first["video"]))
    assert (dataset.root / "dataset.json").read_bytes() == (again.root / "dataset.json").read_bytes()


def test_another_seed_gives_other_data(dataset, tmp_path: Path) -> None:
    other = generate(tmp_path, SyntheticConfig.tiny(seed=1, n_val=0, n_test=0, n_compositional=0), workers=0)
    assert other["train"].manifest.read_bytes() != dataset["train"].manifest.read_bytes()
    ours, theirs = records(dataset["train"].path), records(other["train"].path)
    assert [r["id"] for r in ours] == [r["id"] for r in theirs]
    assert any(a["meta"] != b["meta"] for a, b in zip(ours, theirs, strict=True))


def test_second_call_reuses_and_fresh_or_new_sizes_regenerate(tmp_path: Path) -> None:
    config = SyntheticConfig.tiny(n_train=4, n_val=2, n_test=2, n_compositional=2)
    first = generate(tmp_path, config, workers=0)
    assert first.generated_items == 10 and first.items_per_second > 0
    stamp = first["train"].manifest.stat().st_mtime_ns
    started = time.perf_counter()
    again = generate(tmp_path, config, workers=0)
    assert time.perf_counter() - started < 1.0
    assert again.generated_items == 0 and all(s.reused for s in again.splits.values())
    assert again["train"].manifest.stat().st_mtime_ns == stamp
    bigger = generate(tmp_path, config.__class__(**{**config.__dict__, "n_test": 3}), workers=0)
    assert [s.name for s in bigger.splits.values() if not s.reused] == ["test"]
    assert len(records(bigger["test"].path)) == 3
    fresh = generate(tmp_path, config, workers=0, fresh=True)
    assert fresh.generated_items == 10 and not any(s.reused for s in fresh.splits.values())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary directories left


# -- formats -------------------------------------------------------------------------------------------
def test_media_formats(dataset) -> None:
    split = dataset["val"].path
    for record in records(split):
        frames = decode_video(split / record["video"])
        assert frames.shape == (CONFIG.num_frames, CONFIG.frame_size, CONFIG.frame_size, 3)
        info = sf.info(str(split / record["audio"]))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert info.frames == round(CONFIG.duration * 16000)
        assert Image.open(split / record["image"]).mode == "RGB"
        assert len(record["depth"]) == len(record["thermal"]) == CONFIG.n_keyframes
        depth_image = Image.open(split / record["depth"][0])
        depth = np.array(depth_image)
        assert depth_image.mode == "I;16" and depth.dtype == np.uint16
        assert depth.min() >= 500 and depth.max() <= 10000
        assert depth.min() < 4000 < depth.max()  # objects in front of a backdrop several metres away
        thermal = Image.open(split / record["thermal"][0])
        assert thermal.mode == "RGB" and thermal.size == (CONFIG.frame_size, CONFIG.frame_size)


def test_manifest_paths_exist_and_official_layout_resolves(dataset) -> None:
    for split in SPLIT_NAMES:
        info = dataset[split]
        annotation = json.loads(info.official_annotation.read_text())
        for record in records(info.path):
            paths = [record[m] for m in ("video", "audio", "image")] + record["depth"] + record["thermal"]
            assert all((info.path / p).is_file() for p in paths)
            entry = annotation[record["id"]]
            assert set(entry) == {"folder", "mplug", "polish_mplug", "ofa", "sound_mplug", "raw"}
            assert entry["sound_mplug"] == record["text"]["sound_caption"] and len(entry["ofa"]) == 8
            folder = info.official_root / entry["folder"]
            assert (info.official_root / f"{entry['folder']}_resize256_skip15" / f"{record['id']}.mp4").is_file()
            assert (folder / f"{record['id']}_depth_f8glpn_folder" / "7.png").is_file()
            assert (folder / f"{record['id']}_thermal_folder" / "7.jpg").is_file()


def test_shard_members_follow_the_documented_names(dataset) -> None:
    info = dataset["train"]
    expected_ids = [r["id"] for r in records(info.path)]
    seen = []
    for shard in info.shards:
        with tarfile.open(shard) as tar:
            names = tar.getnames()
            ids = list(dict.fromkeys(name.split(".")[0] for name in names))
            for item in ids:
                fields = {n[len(item) + 1:] for n in names if n.startswith(item + ".")}
                assert fields == {"video.mp4", "audio.wav", "image.jpg", "point.npy", "imu.npy", "json",
                                  *(f"depth.{k}.png" for k in range(8)), *(f"thermal.{k}.jpg" for k in range(8))}
                sample = json.loads(tar.extractfile(f"{item}.json").read())
                assert set(sample) == {"id", "text", "meta"} and sample["id"] == item
                depth = Image.open(io.BytesIO(tar.extractfile(f"{item}.depth.0.png").read()))
                assert depth.mode == "I;16"
            seen += ids
    assert seen == expected_ids


def test_the_three_training_readers_load_it(dataset) -> None:
    from languagebind.data.manifest import read_manifest
    from languagebind.data.shards import iter_shard, shard_record
    from languagebind.data.vidal_json import read_vidal

    info = dataset["test"]
    from_manifest = list(read_manifest(info.manifest))
    from_shards = [shard_record(s) for shard in info.shards for s in iter_shard(shard)]
    from_official = list(read_vidal(info.official_annotation, info.official_root))
    assert [r.id for r in from_manifest] == [r.id for r in from_shards] == [r.id for r in from_official]
    for a, b, c in zip(from_manifest, from_shards, from_official, strict=True):
        assert a.texts == b.texts == c.texts
        assert a.meta == b.meta
        assert set(a.sources) == set(b.sources) == {"video", "audio", "image", "depth", "thermal", "point", "imu"}
        assert not {"point", "imu"} & set(c.sources)  # VIDAL-10M has no point cloud or IMU
        assert all(p.is_file() for p in c.sources["depth"]) and c.sources["audio"].is_file()


# -- splits --------------------------------------------------------------------------------------------
def test_splits_are_disjoint_and_compositional_pairs_never_train(dataset) -> None:
    by_split = {s: records(dataset[s].path) for s in SPLIT_NAMES}
    ids = [r["id"] for rs in by_split.values() for r in rs]
    assert len(ids) == len(set(ids)) == 40
    held = json.loads((dataset.root / "dataset.json").read_text())["held_out"]
    assert set(held) == {"count", "colour", "direction"}

    def pairs(items: list[dict]) -> set[tuple[str, str, object]]:
        return {(a, r["meta"]["category"], r["meta"][a]) for r in items for a in held}

    in_distribution = pairs(by_split["train"] + by_split["val"] + by_split["test"])
    held_pairs = {(a, c, v) for a, table in held.items() for c, v in table.items()}
    assert not in_distribution & held_pairs
    for record in by_split["compositional"]:
        meta = record["meta"]
        assert "count" in meta["held_out"] and meta["split"] == "compositional"
        assert all(held[a][meta["category"]] == meta[a] for a in meta["held_out"])
    assert {r["meta"]["category"] for r in by_split["train"]} == set(CONFIG.categories)


# -- captions ------------------------------------------------------------------------------------------
def test_captions_name_only_what_each_modality_perceives(dataset) -> None:
    words = {"colour": set(COLOURS), "size": set(SIZES), "direction": set(DIRECTIONS),
             "speed": {"slowly", "quickly", "slow", "fast"}}
    for record in records(dataset["train"].path) + records(dataset["compositional"].path):
        meta, text = record["meta"], record["text"]
        for modality in MODALITIES:
            assert meta["captions"][modality] == caption(modality, meta)
            tokens = set(meta["captions"][modality].split())
            for attribute, vocabulary in words.items():
                named = bool(tokens & vocabulary)
                assert named == (attribute in PERCEIVES[modality]), (modality, attribute, tokens)
        sound = set(text["sound_caption"].rstrip(".").split())
        assert not sound & (words["colour"] | words["size"] | words["direction"])
        assert meta["category"] in text["sound_caption"] or meta["category"] + "s" in text["sound_caption"]
        for frame_caption in text["keyframe_captions"]:
            assert not set(frame_caption.split()) & (words["speed"] | {"moving", "upwards", "downwards"})
        assert meta["colour"] in text["video_caption"] and meta["colour"] in text["raw"]


def test_caption_helpers() -> None:
    meta = {"category": "star", "colour": "red", "size": "large", "count": 2, "direction": "left", "speed": "fast"}
    assert caption("video", meta) == "a video of two large red stars moving left quickly"
    assert caption("audio", meta) == "the sound of two stars chiming quickly"
    assert caption("depth", meta) == "a depth map of two large stars"
    assert caption("image", {"category": "moon", "colour": "orange"}) == "a photo of an orange moon"
    assert perceives("thermal") == ("category", "size", "count")
    labels = zero_shot_labels("thermal")
    assert len(labels) == len(set(labels)) >= 10 and labels[0] == "a thermal image of a ball"
    assert caption_labels("audio", [meta, {**meta, "colour": "blue"}]) == [caption("audio", meta)]
    # Attribute precision@1's hit rule: only what the query's modality caption names has to match.
    assert attributes_match(meta, {**meta, "colour": "blue"}, "audio")
    assert not attributes_match(meta, {**meta, "colour": "blue"}, "image")
    with pytest.raises(InputError):
        caption("smell", meta)


def test_speed_and_count_are_audible() -> None:
    vocab = CONFIG.vocabulary()
    for index in range(20):
        scene = sample_scene(vocab, index, np.random.default_rng(index), compositional=False)
        events = event_times(scene, CONFIG.duration)
        assert len(events) == scene.attributes["count"]
        per_voice = len(events[0])
        assert per_voice >= 9 if scene.attributes["speed"] == "fast" else 3 <= per_voice <= 4


def test_objects_stay_apart_and_inside_the_frame() -> None:
    vocab, pixel = CONFIG.vocabulary(), 1 / CONFIG.frame_size
    for index in range(300):
        scene = sample_scene(vocab, index, np.random.default_rng(index), compositional=index % 2 == 1)
        path = scene.positions(np.array([0.0, 1.0]))  # (2, count, 2): objects share the velocity
        assert path.min() >= scene.radius and path.max() <= 1 - scene.radius
        centres = path[0]
        gaps = [np.hypot(*(a - b)) for i, a in enumerate(centres) for b in centres[i + 1:]]
        assert all(gap >= 2 * scene.radius + pixel for gap in gaps)


def test_bad_configs_are_refused() -> None:
    with pytest.raises(ConfigError):
        SyntheticConfig(frame_size=63)
    with pytest.raises(ConfigError):
        SyntheticConfig(official_layout=True, n_keyframes=4)
    with pytest.raises(ConfigError):
        SyntheticConfig(categories=("ball", "unicorn"))
    assert SyntheticConfig.from_dict(CONFIG.to_dict()) == CONFIG


def test_a_file_as_dataset_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("")
    with pytest.raises(InputError, match="taken"):
        generate(tmp_path / "taken", SyntheticConfig.tiny(), workers=0)


def test_mpeg4_codec_also_decodes(tmp_path: Path) -> None:
    config = SyntheticConfig.tiny(n_train=2, n_val=0, n_test=0, n_compositional=0, video_codec="mpeg4")
    data = generate(tmp_path, config, workers=0)
    record = records(data["train"].path)[0]
    assert decode_video(data["train"].path / record["video"]).shape == (16, 64, 64, 3)
