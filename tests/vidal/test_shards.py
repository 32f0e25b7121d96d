"""Shard files: reproducible tars, both layouts, and the trainer's reader (languagebind.data) reading them."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from languagebind.data.shards import tar_samples, write_tar
from languagebind.data.titles import Title
from languagebind.vidal.operators import StageTiming
from languagebind.vidal.pack import Pack
from languagebind.vidal.sample import InputItem, Sample
from languagebind.vidal.shards import (
    ShardJob,
    plan,
    read_status,
    summarize,
    write_shard,
)


def _finished_sample(index: int, with_all: bool = True) -> Sample:
    rng = np.random.default_rng(index)
    sample = Sample(InputItem(index, f"clip{index}", "/x.mp4", f"clip{index}.mp4", "A dog #fun", ("dog",)))
    sample.fields.update(text=Title("A dog", ("dog",)), info=None,
                         keyframes=[rng.integers(0, 255, (32, 48, 3), dtype=np.uint8) for _ in range(8)])
    if with_all:
        sample.fields.update(audio=np.zeros(1600, np.float32), audio_rate=16000,
                             depth=[rng.integers(0, 10000, (32, 48)).astype(np.uint16) for _ in range(8)],
                             thermal=[rng.integers(0, 255, (32, 48, 3), dtype=np.uint8) for _ in range(8)],
                             keyframe_captions=[f"frame {k}" for k in range(8)], video_caption="a dog",
                             polished_caption="A dog runs.", sound_caption="Barking.")
    return sample


def _pack(samples: list[Sample]) -> list[Sample]:
    op = Pack(image_keyframe=0, official=True)
    op.ensure_setup()
    op.process(samples)
    return samples


def test_tar_members_are_reproducible(tmp_path: Path) -> None:
    members = [("a.json", b"{}"), ("a.video.mp4", b"xyz")]
    write_tar(tmp_path / "1.tar", members)
    write_tar(tmp_path / "2.tar", members)
    assert (tmp_path / "1.tar").read_bytes() == (tmp_path / "2.tar").read_bytes()
    with tarfile.open(tmp_path / "1.tar") as tar:
        info = tar.getmembers()[0]
    assert (info.mtime, info.uid, info.gid, info.uname, info.mode) == (0, 0, 0, "", 0o644)


def test_our_layout_and_the_official_one() -> None:
    sample = _pack([_finished_sample(0)])[0]
    names = [name for name, _ in sample.fields["members"]]
    assert names[:4] == ["clip0.json", "clip0.video.mp4", "clip0.image.jpg", "clip0.audio.wav"]
    assert names[4:12] == [f"clip0.depth.{k}.png" for k in range(8)]
    assert names[12:] == [f"clip0.thermal.{k}.jpg" for k in range(8)]
    record = json.loads(dict(sample.fields["members"])["clip0.json"])
    assert record["text"] == {"raw": "A dog #dog", "keyframe_captions": [f"frame {k}" for k in range(8)],
                              "video_caption": "a dog", "polished_caption": "A dog runs.", "sound_caption": "Barking."}
    assert record["meta"]["image_keyframe"] == 0 and record["meta"]["source"] == "clip0.mp4"
    official = dict(sample.fields["official_members"])
    assert official["clip0.polish_mplug.txt"] == b"In the video, A dog runs."
    assert {f"clip0.{p}{k}.{e}" for p, e in (("frm", "jpg"), ("tml", "jpg"), ("dep", "npy"), ("ofa", "txt"))
            for k in range(8)} <= set(official)
    assert Image.open(io.BytesIO(official["clip0.frm0.jpg"])).size == (48, 32)
    assert np.load(io.BytesIO(official["clip0.dep3.npy"])).dtype == np.uint16


def test_trainer_reader_reads_both_layouts(tmp_path: Path) -> None:
    shards = pytest.importorskip("languagebind.data.shards")
    samples = _pack([_finished_sample(0), _finished_sample(1, with_all=False)])
    job = ShardJob(0, [s.item for s in samples])
    write_shard(tmp_path, job, samples)
    ours = [shards.shard_record(raw) for raw in shards.iter_shard(tmp_path / "shards" / "shard-000000.tar")]
    assert [r.id for r in ours] == ["clip0", "clip1"]
    assert set(ours[0].sources) == {"video", "audio", "image", "depth", "thermal"}
    assert len(ours[0].sources["depth"]) == 8 and ours[0].texts.polished_caption == "A dog runs."
    assert set(ours[1].sources) == {"video", "image"} and ours[1].texts.raw == "A dog #dog"
    official = [shards.shard_record(raw) for raw in shards.iter_shard(tmp_path / "official" / "00000.tar")]
    assert official[0].texts.polished_caption == "A dog runs."
    assert len(official[0].sources["video"]) == 8 and len(official[0].sources["thermal"]) == 8


def test_retry_merges_into_the_finished_shard(tmp_path: Path) -> None:
    items = [_finished_sample(i).item for i in range(3)]
    first = _pack([_finished_sample(i) for i in range(3)])
    first[1].drop("failed", "RuntimeError", "boom", "depth")
    write_shard(tmp_path, ShardJob(0, items, timings={"depth": StageTiming(3, 1.0)}), first)
    assert [r["status"] for r in read_status(tmp_path, 0)] == ["ok", "failed", "ok"]
    jobs, done = plan(tmp_path, items, 3, retry_failed=True)
    assert done == 1 and len(jobs) == 1 and jobs[0].retry and [i.id for i in jobs[0].items] == ["clip1"]
    retried = _pack([_finished_sample(1)])
    write_shard(tmp_path, jobs[0], retried)
    merged = tar_samples(tmp_path / "shards" / "shard-000000.tar")
    assert list(merged) == ["clip0", "clip1", "clip2"]
    fresh = tmp_path / "fresh"
    write_shard(fresh, ShardJob(0, items), _pack([_finished_sample(i) for i in range(3)]))
    shard = Path("shards") / "shard-000000.tar"
    assert (fresh / shard).read_bytes() == (tmp_path / shard).read_bytes()
    summary = summarize(tmp_path, 1)
    assert (summary["ok"], summary["failed"], summary["stages"]["depth"]["items"]) == (3, 0, 3)
    assert len((tmp_path / "manifest.jsonl").read_text().splitlines()) == 3
    assert plan(tmp_path, items, 3, retry_failed=True) == ([], 1)
