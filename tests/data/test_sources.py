"""Readers: our JSONL manifest, the official VIDAL annotation + data root, tar shards (both layouts)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from languagebind.data.manifest import read_manifest
from languagebind.data.records import Blob
from languagebind.data.shards import expand_shards, iter_shard, shard_record, split_member_name
from languagebind.data.vidal_json import read_vidal
from languagebind.errors import InputError
from tests.data.helpers import make_clips, write_manifest, write_shards, write_vidal


def test_manifest_paths_are_relative_to_its_folder(tmp_path: Path) -> None:
    clips = make_clips(3)
    path = write_manifest(tmp_path, clips, modalities=("image", "depth"))
    records = read_manifest(path)
    assert len(records) == 3
    record = records[1]
    assert record.id == "clip0001"
    assert record.sources["image"] == tmp_path / "image" / "clip0001.jpg"
    assert record.sources["image"].is_file()
    assert len(record.sources["depth"]) == 8 and record.sources["depth"][3].is_file()
    assert record.texts.polished_caption == "a clip that is all green"
    assert record.meta == {"label": "green"}
    assert [r.id for r in records] == ["clip0000", "clip0001", "clip0002"]
    assert len(read_manifest(path, limit=2)) == 2


@pytest.mark.parametrize(("line", "reason"), [
    ("{not json", "not valid JSON"), ('{"text": {}}', "non-empty 'id'"), ('{"id": "a", "vidoe": "x"}', "unknown"),
    ("[1, 2]", "JSON object"), ('{"id": "a", "text": "hello"}', "'text' must be an object"),
])
def test_manifest_structure_errors_name_the_line(tmp_path: Path, line: str, reason: str) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text('{"id": "ok", "text": {"raw": "x"}}\n' + line + "\n")
    with pytest.raises(InputError, match=reason) as info:
        read_manifest(path)
    assert "m.jsonl:2" in str(info.value)


def test_vidal_official_path_rules(tmp_path: Path) -> None:
    clips = make_clips(2)
    annotation, root = write_vidal(tmp_path, clips, modalities=("depth", "video"))
    records = read_vidal(annotation, root)
    record = records[0]
    assert record.sources["video"] == root / "part0_resize256_skip15" / "clip0000.mp4"
    assert record.sources["depth"][5] == root / "part0" / "clip0000_depth_f8glpn_folder" / "5.png"
    assert record.sources["thermal"][0] == root / "part0" / "clip0000_thermal_folder" / "0.jpg"
    assert record.sources["audio"] == record.sources["video"]  # no .wav: the video's audio track
    assert record.texts.video_caption == "a red scene" and len(record.texts.keyframe_captions) == 8

    # 'new_' folders share one video folder; a frame folder stands in for a missing mp4
    data = json.loads(annotation.read_text())
    data["clip0001"]["folder"] = "new_part7"
    annotation.write_text(json.dumps(data))
    frames = root / "new_download_resize256_skip15" / "clip0001_resize256_folder"
    frames.mkdir(parents=True)
    record = read_vidal(annotation, root)[1]
    assert record.sources["video"] == tuple(frames / f"{k}.jpg" for k in range(8))
    with pytest.raises(InputError, match="data root"):
        read_vidal(annotation, tmp_path / "nowhere")


def test_shard_layouts(tmp_path: Path) -> None:
    clips = make_clips(4)
    ours = write_shards(tmp_path / "ours", clips, per_shard=2, modalities=("image", "depth"))
    samples = list(iter_shard(ours[1]))
    assert [s.key for s in samples] == ["clip0002", "clip0003"]
    record = shard_record(samples[0])
    assert record.id == "clip0002" and record.meta == {"label": "blue"}
    assert isinstance(record.sources["image"], Blob) and record.sources["image"].suffix == ".jpg"
    assert len(record.sources["depth"]) == 8 and record.sources["depth"][0].name == "clip0002.depth.0.png"
    assert record.texts.raw.startswith("My blue thing")

    official = write_shards(tmp_path / "off", clips, per_shard=4, layout="official",
                            modalities=("video", "thermal", "depth"))
    record = shard_record(next(iter_shard(official[0])))
    assert record.meta["layout"] == "official"
    assert [b.name for b in record.sources["video"]] == [f"clip0000.frm{k}.jpg" for k in range(8)]
    assert record.sources["depth"][0].suffix == ".npy" and len(record.sources["thermal"]) == 1
    assert record.texts.polished_caption == "a clip that is all red"  # "In the video, " stripped


def test_frame_gap_drops_only_that_modality(tmp_path: Path) -> None:
    def drop_frame(clip, members):
        return {k: v for k, v in members.items() if k != "frm3.jpg"}

    path = write_shards(tmp_path, make_clips(1), 1, layout="official", modalities=("video", "thermal"),
                        edit=drop_frame)[0]
    record = shard_record(next(iter_shard(path)))
    assert "video" not in record.sources and "thermal" in record.sources
    assert "not numbered" in record.meta["problems"]["video"]


def test_truncated_shard_reports_where_it_stopped(tmp_path: Path) -> None:
    path = write_shards(tmp_path, make_clips(3), 3)[0]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 + 100])
    samples = list(iter_shard(path))
    assert samples[-1].error is not None and "unreadable" in samples[-1].error
    assert all(s.error is None for s in samples[:-1])
    with pytest.raises(InputError, match="unreadable"):
        shard_record(samples[-1])


def test_unknown_sample_layout(tmp_path: Path) -> None:
    path = tmp_path / "x.tar"
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("k1.weird.bin")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(InputError, match="neither our layout"):
        shard_record(next(iter_shard(path)))


def test_expand_shards(tmp_path: Path) -> None:
    paths = write_shards(tmp_path, make_clips(6), per_shard=2)
    assert expand_shards(str(tmp_path / "shard-{000000..000002}.tar")) == paths
    assert expand_shards(str(tmp_path / "shard-*.tar")) == paths
    assert expand_shards(tmp_path) == paths
    assert expand_shards([str(paths[2]), str(paths[0])]) == [paths[2], paths[0]]
    with pytest.raises(InputError, match="not found"):
        expand_shards(str(tmp_path / "shard-{000000..000004}.tar"))
    assert split_member_name("a/b/clip.depth.0.png") == ("a/b/clip", "depth.0.png")
    assert split_member_name("noext") is None
