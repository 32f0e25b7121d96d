"""Batch streams: rank/worker splits, world-size-independent global batches, exact resume, bad samples."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from languagebind.data.manifest import read_manifest
from languagebind.data.records import PairRecord
from languagebind.data.stream import (
    DataError,
    IndexedBatches,
    LoadedSample,
    Partition,
    ShardBatches,
    shuffled,
)
from languagebind.data.text import TextSampler
from languagebind.errors import InputError
from tests.data.helpers import make_clips, write_manifest, write_shards


class FakeLoader:
    """Pixels = (clip number, a random draw): the draw shows the per-sample generator is reproducible."""

    def __init__(self, bad: frozenset[str] = frozenset()) -> None:
        self.bad = bad
        self.texts = TextSampler()

    def __call__(self, record: PairRecord, rng: np.random.Generator) -> LoadedSample:
        if record.id in self.bad:
            raise InputError(record.id, "corrupt on purpose")
        text = self.texts.sample(record.texts, rng, record.id)
        return LoadedSample(record.id, torch.tensor([float(record.id[-4:]), rng.random()]), text)


def tokenize(texts: list[str]) -> dict[str, torch.Tensor]:
    ids = torch.tensor([[len(t), sum(map(ord, t)) % 1000] for t in texts])
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def take(dataset, n: int, workers: int = 0) -> list[dict]:
    loader = DataLoader(dataset, batch_size=None, num_workers=workers)
    return list(itertools.islice(iter(loader), n))


def same(a: list[dict], b: list[dict]) -> bool:
    return all(x["ids"] == y["ids"] and torch.equal(x["pixels"], y["pixels"]) and x["texts"] == y["texts"]
               for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    return write_manifest(tmp_path_factory.mktemp("m"), make_clips(24), modalities=())


def test_indexed_global_batches_do_not_depend_on_world_size(manifest: Path) -> None:
    records = read_manifest(manifest)
    single = take(IndexedBatches(records, FakeLoader(), tokenize, batch_size=4, seed=5), 9)
    ranks = [take(IndexedBatches(records, FakeLoader(), tokenize, batch_size=2, seed=5,
                                 partition=Partition(rank=r, world_size=2)), 9) for r in range(2)]
    for k in range(9):
        merged = ranks[0][k]["ids"] + ranks[1][k]["ids"]
        assert merged == single[k]["ids"]
        assert torch.equal(torch.cat([ranks[0][k]["pixels"], ranks[1][k]["pixels"]]), single[k]["pixels"])
    # an epoch (6 batches of 4) covers every record once, then a new permutation starts
    epoch0 = [i for b in single[:6] for i in b["ids"]]
    assert sorted(epoch0) == [f"clip{i:04d}" for i in range(24)]
    assert single[6]["epoch"] == 1 and [i for b in single[6:9] for i in b["ids"]] != epoch0[:12]


def test_indexed_workers_and_resume(manifest: Path) -> None:
    records = read_manifest(manifest)
    plain = take(IndexedBatches(records, FakeLoader(), tokenize, 3, seed=1), 10)
    workers = take(IndexedBatches(records, FakeLoader(), tokenize, 3, seed=1, partition=Partition(num_streams=2)),
                   10, workers=2)
    assert same(plain, workers)
    resumed = take(IndexedBatches(records, FakeLoader(), tokenize, 3, seed=1, partition=Partition(num_streams=2),
                                  start_batch=7), 3, workers=2)
    assert same(plain[7:], resumed) and [b["index"] for b in resumed] == [7, 8, 9]


def test_indexed_bad_samples_are_replaced_and_reported(manifest: Path) -> None:
    records = read_manifest(manifest)
    bad = frozenset({"clip0003", "clip0010", "clip0017"})
    batches = take(IndexedBatches(records, FakeLoader(bad), tokenize, 4, seed=2), 6)
    skipped = [s for b in batches for s in b["skipped"]]
    assert {i for i, _ in skipped} >= bad and all(r == "corrupt on purpose" for _, r in skipped)
    assert all(len(b["ids"]) == 4 and not set(b["ids"]) & bad for b in batches)
    every = frozenset(f"clip{i:04d}" for i in range(24))
    with pytest.raises(DataError, match="16 samples in a row"):
        take(IndexedBatches(records, FakeLoader(every), tokenize, 4), 1)


def test_indexed_too_small(manifest: Path) -> None:
    with pytest.raises(DataError, match="fewer than one global batch"):
        IndexedBatches(read_manifest(manifest), FakeLoader(), tokenize, 13, partition=Partition(0, 2))


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> list[Path]:
    return write_shards(tmp_path_factory.mktemp("s"), make_clips(30), per_shard=5)


def test_shard_streams_resume_exactly(shards: list[Path]) -> None:
    def make(**kw):
        return ShardBatches(shards, FakeLoader(), tokenize, 4, seed=3, partition=Partition(num_streams=2),
                            shuffle_buffer=4, **kw)

    full = take(make(), 12, workers=2)
    assert [b["index"] for b in full] == list(range(12))
    assert [b["stream"] for b in full] == [0, 1] * 6
    for cut in (5, 8):  # resume after `cut` batches, from the state of the last batch of each stream
        states = {b["stream"]: b["state"] for b in full[:cut]}
        resumed = take(make(start_batch=cut, stream_states=states), 12 - cut, workers=2)
        assert same(full[cut:], resumed)


def test_shard_split_covers_each_sample_once_per_epoch(shards: list[Path]) -> None:
    for world, streams in ((2, 2), (4, 2)):  # 4 and 8 units over 6 shards: shard- and sample-level splits
        seen = []
        for rank in range(world):
            ds = ShardBatches(shards, FakeLoader(), tokenize, 1, seed=0,
                              partition=Partition(rank, world, streams), shuffle_buffer=0)
            for stream in range(streams):
                for batch in ds.stream_batches(stream, 0, 0):
                    if batch["epoch"] > 0:
                        break
                    seen += batch["ids"]
        assert sorted(seen) == [f"clip{i:04d}" for i in range(30)]


def test_shard_bad_samples_skipped_and_counted(tmp_path: Path) -> None:
    def corrupt(clip, members):
        if clip.id == "clip0002":
            return {**members, "json": b"{broken"}
        if clip.id == "clip0004":
            return {k: v for k, v in members.items() if k != "image.jpg"}
        return members

    paths = write_shards(tmp_path, make_clips(8), per_shard=4, edit=corrupt)
    batches = take(ShardBatches(paths, FakeLoader(frozenset({"clip0004"})), tokenize, 3, shuffle_buffer=0), 4)
    skipped = dict(s for b in batches for s in b["skipped"])
    assert "not valid JSON" in skipped["clip0002"] and skipped["clip0004"] == "corrupt on purpose"
    all_bad = write_shards(tmp_path / "bad", make_clips(3), per_shard=3,
                           edit=lambda c, m: {**m, "json": b"{"})
    with pytest.raises(DataError, match="in a row"):
        take(ShardBatches(all_bad, FakeLoader(), tokenize, 2), 1)


def test_worker_count_must_match(shards: list[Path]) -> None:
    with pytest.raises(DataError, match="built for 2"):
        take(ShardBatches(shards, FakeLoader(), tokenize, 2, partition=Partition(num_streams=2)), 1)


def test_shuffle_buffer_is_a_seeded_permutation() -> None:
    out = list(shuffled(iter(range(50)), 8, np.random.default_rng(0)))
    assert sorted(out) == list(range(50)) and out != list(range(50))
    assert out == list(shuffled(iter(range(50)), 8, np.random.default_rng(0)))
