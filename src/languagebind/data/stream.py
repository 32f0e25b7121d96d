"""Deterministic, resumable batch streams for training, split by rank and by DataLoader worker.

Each DataLoader worker builds whole batches (``DataLoader(batch_size=None)``); the DataLoader hands them out
round-robin, worker 0 first. A stream is therefore a fixed sequence of batches, and a run that resumes after
``K`` batches restarts worker ``w`` at the stream that was due for batch ``K + w``.

* ``IndexedBatches`` (manifest, VIDAL JSON): epoch ``e`` is a seeded permutation of all records, cut into global
  batches of ``batch_size * world_size``; rank ``r`` takes slice ``r`` of each. The global batches do not depend on
  the world size, so one process with batch 2B sees exactly what two ranks with batch B see together. Batch ``b``
  is made by worker ``b % workers``; resuming needs only the batch count.
* ``ShardBatches`` (tar shards): ``world_size * workers`` streams; each reads its own shards (or, with fewer shards
  than streams, every n-th sample of all shards) through a seeded shuffle buffer, epoch after epoch. Each batch
  carries its stream's position (epoch, raw samples consumed); resuming fast-forwards the raw reading to it.

Every random choice of a sample (text view, frame, augmentation) comes from a generator seeded by the sample's
place in the stream, so it is the same whichever worker or process makes it.

A bad sample (missing file, corrupt data, no usable text) is skipped, reported in the batch's ``skipped`` list as
``(id, reason)`` and replaced: by a seeded fallback pick (indexed) or the next sample (shards). ``max_bad_in_a_row``
consecutive failures stop the run with a ``DataError``: the data is (nearly) all bad.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from languagebind.data.records import PairRecord, RecordStore
from languagebind.data.shards import RawSample, iter_shard, shard_record
from languagebind.data.text import TextChoice
from languagebind.errors import InputError, LanguageBindError

Tokenize = Callable[[list[str]], dict[str, torch.Tensor]]


class DataError(LanguageBindError):
    """The training data cannot produce batches (e.g. every sample tried in a row was bad)."""


@dataclass(frozen=True)
class LoadedSample:
    """A decoded training pair; ``seed`` drives the model-side randomness of the sample (patch dropout);
    ``contrast``: the record's hard negatives (``TextViews.contrast``), when training uses them."""

    id: str
    pixels: torch.Tensor
    text: TextChoice
    seed: int = 0
    contrast: tuple[str, ...] = ()


class SampleLoader(Protocol):
    def __call__(self, record: PairRecord, rng: np.random.Generator) -> LoadedSample: ...


@dataclass(frozen=True)
class Partition:
    """This process's share: ``rank`` of ``world_size``, and the number of streams per rank (the DataLoader's
    worker count, 1 without workers)."""

    rank: int = 0
    world_size: int = 1
    num_streams: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.rank < self.world_size or self.num_streams < 1:
            raise ValueError(f"bad partition {self}")


def sample_rng(*key: int) -> np.random.Generator:
    """The generator of one sample, seeded by its place (seed, epoch, position, ...)."""
    return np.random.default_rng([int(k) for k in key])


def collate(samples: Sequence[LoadedSample], tokenize: Tokenize | None) -> dict[str, Any]:
    """Stack pixels, tokenize texts (unless ``tokenize`` is None: the text cache tokenizes the texts it has not
    embedded yet); keep ids, texts, the views they came from and the sample seeds."""
    texts = [s.text.text for s in samples]
    out = {"pixels": torch.stack([s.pixels for s in samples]), "texts": texts, "ids": [s.id for s in samples],
           "views": [s.text.view for s in samples], "seeds": torch.tensor([s.seed for s in samples])}
    if tokenize is not None:
        tokens = tokenize(texts)
        out.update(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"])
    if any(s.contrast for s in samples):
        out["contrast"] = collate_contrast([s.contrast for s in samples])
    return out


def collate_contrast(lists: Sequence[tuple[str, ...]]) -> dict[str, Any]:
    """Hard-negative lists (true caption first) -> flat texts and a (B, K) mask of real entries (lists are padded
    to the longest with their first text, masked out; a sample without a list is all out). Not tokenized: these
    texts repeat, and the text cache tokenizes only those it has not embedded yet."""
    width = max(len(c) for c in lists)
    mask = torch.tensor([[k < len(c) for k in range(width)] if len(c) > 1 else [False] * width for c in lists])
    texts = [c[k] if k < len(c) else (c[0] if c else "") for c in lists for k in range(width)]
    return {"texts": texts, "mask": mask}


class _Batches(IterableDataset):
    """What both streams share: the sample loader, the tokenizer, the bad-sample budget, the worker check."""

    def __init__(self, loader: SampleLoader, tokenize: Tokenize | None, batch_size: int, seed: int,
                 partition: Partition, start_batch: int, max_bad_in_a_row: int) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.loader, self.tokenize = loader, tokenize
        self.batch_size, self.seed, self.partition = batch_size, seed, partition
        self.start_batch, self.max_bad_in_a_row = start_batch, max_bad_in_a_row

    def _worker(self) -> int:
        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info is not None else (1, 0)
        if workers != self.partition.num_streams:
            raise DataError(f"the stream was built for {self.partition.num_streams} DataLoader worker(s), "
                            f"but runs in {workers}")
        if info is not None:
            torch.set_num_threads(1)
        return worker

    def _load(self, record: PairRecord, rng: np.random.Generator) -> LoadedSample:
        return dataclasses.replace(self.loader(record, rng), seed=int(rng.integers(1 << 62)))

    def _too_many_bad(self, skipped: list[tuple[str, str]]) -> DataError:
        last = "; ".join(f"{i}: {r}" for i, r in skipped[-3:])
        return DataError(f"{self.max_bad_in_a_row} samples in a row could not be loaded; the data looks bad "
                         f"(check paths / data_root). Last failures: {last}")


class IndexedBatches(_Batches):
    """Batches from a record store with random access (manifest, VIDAL annotation)."""

    def __init__(self, records: RecordStore, loader: SampleLoader, tokenize: Tokenize | None, batch_size: int,
                 seed: int = 0, partition: Partition = Partition(), start_batch: int = 0,
                 max_bad_in_a_row: int = 16) -> None:
        super().__init__(loader, tokenize, batch_size, seed, partition, start_batch, max_bad_in_a_row)
        self.records = records
        self.global_batch = batch_size * partition.world_size
        self.batches_per_epoch = len(records) // self.global_batch
        if self.batches_per_epoch == 0:
            raise DataError(f"{records.origin}: {len(records)} records are fewer than one global batch "
                            f"({batch_size} x {partition.world_size} processes)")
        self._perm: tuple[int, np.ndarray] | None = None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        worker = self._worker()
        for index in itertools.count(self.start_batch + worker, self.partition.num_streams):
            yield self.batch(index)

    def permutation(self, epoch: int) -> np.ndarray:
        if self._perm is None or self._perm[0] != epoch:
            self._perm = (epoch, np.random.default_rng([self.seed, epoch]).permutation(len(self.records)))
        return self._perm[1]

    def batch(self, index: int) -> dict[str, Any]:
        """Batch ``index`` of this rank (a pure function of the index)."""
        epoch, within = divmod(index, self.batches_per_epoch)
        perm = self.permutation(epoch)
        start = within * self.global_batch + self.partition.rank * self.batch_size
        samples, skipped = [], []
        for position in range(start, start + self.batch_size):
            samples.append(self._sample(epoch, position, perm, skipped))
        out = collate(samples, self.tokenize)
        out.update({"index": index, "epoch": epoch, "skipped": skipped})
        return out

    def _sample(self, epoch: int, position: int, perm: np.ndarray, skipped: list[tuple[str, str]]) -> LoadedSample:
        fallback = sample_rng(self.seed, epoch, position, 1 << 20)
        index = int(perm[position])
        for attempt in range(self.max_bad_in_a_row):
            record = None
            try:
                record = self.records[index]
                return self._load(record, sample_rng(self.seed, epoch, position, attempt))
            except Exception as err:  # any decoder failure is a bad sample (skip_reason)
                name = record.id if record is not None else f"{self.records.origin}#{index}"
                skipped.append((name, skip_reason(err)))
            index = int(fallback.integers(len(self.records)))
        raise self._too_many_bad(skipped)


class ShardBatches(_Batches):
    """Batches from tar shards read as streams (see the module docstring)."""

    def __init__(self, shards: Sequence[Path], loader: SampleLoader, tokenize: Tokenize | None, batch_size: int,
                 seed: int = 0, partition: Partition = Partition(), start_batch: int = 0,
                 stream_states: dict[int, dict[str, int]] | None = None, shuffle_buffer: int = 64,
                 max_bad_in_a_row: int = 16) -> None:
        super().__init__(loader, tokenize, batch_size, seed, partition, start_batch, max_bad_in_a_row)
        if not shards:
            raise DataError("no shards given")
        self.shards = list(shards)
        self.stream_states = {int(k): dict(v) for k, v in (stream_states or {}).items()}
        self.shuffle_buffer = shuffle_buffer

    @property
    def units(self) -> int:
        return self.partition.world_size * self.partition.num_streams

    def __iter__(self) -> Iterator[dict[str, Any]]:
        worker = self._worker()
        stream = (self.start_batch + worker) % self.partition.num_streams
        state = self.stream_states.get(stream, {"epoch": 0, "consumed": 0})
        index = self.start_batch + worker
        for batch in self.stream_batches(stream, state["epoch"], state["consumed"]):
            batch["index"] = index
            index += self.partition.num_streams
            yield batch

    def stream_batches(self, stream: int, epoch: int, consumed: int) -> Iterator[dict[str, Any]]:
        """The batches of one stream, starting at (epoch, raw samples consumed in it)."""
        unit = self.partition.rank * self.partition.num_streams + stream
        samples: list[LoadedSample] = []
        skipped: list[tuple[str, str]] = []
        bad_in_a_row = 0
        while True:
            for raw in itertools.islice(self.raw_samples(epoch, unit), consumed, None):
                consumed += 1
                try:
                    samples.append(self._load(shard_record(raw), sample_rng(self.seed, epoch, unit, consumed)))
                    bad_in_a_row = 0
                except Exception as err:  # any decoder failure is a bad sample (skip_reason)
                    skipped.append((raw.key, skip_reason(err)))
                    bad_in_a_row += 1
                    if bad_in_a_row >= self.max_bad_in_a_row:
                        raise self._too_many_bad(skipped) from None
                if len(samples) == self.batch_size:
                    out = collate(samples, self.tokenize)
                    out.update({"epoch": epoch, "stream": stream, "skipped": skipped,
                                "state": {"epoch": epoch, "consumed": consumed}})
                    yield out
                    samples, skipped = [], []
            if consumed == 0:
                raise DataError(f"stream {unit} of {self.units} got no samples from {len(self.shards)} shard(s): "
                                "use fewer DataLoader workers / processes, or more data")
            epoch, consumed = epoch + 1, 0

    def raw_samples(self, epoch: int, unit: int) -> Iterator[RawSample]:
        """The raw (undecoded) samples of ``unit`` in ``epoch``: its shard share, through the shuffle buffer."""
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.shards))
        if len(self.shards) >= self.units:
            mine = (self.shards[i] for i in order[unit::self.units])
            stream: Iterator[RawSample] = itertools.chain.from_iterable(iter_shard(p) for p in mine)
        else:
            every = itertools.chain.from_iterable(iter_shard(self.shards[i]) for i in order)
            stream = itertools.islice(every, unit, None, self.units)
        return shuffled(stream, self.shuffle_buffer, np.random.default_rng([self.seed, epoch, unit, 7]))


def shuffled(items: Iterator[Any], size: int, rng: np.random.Generator) -> Iterator[Any]:
    """A seeded shuffle buffer: fill ``size`` items, then emit a random one for each new item."""
    if size <= 1:
        yield from items
        return
    buffer: list[Any] = []
    for item in items:
        if len(buffer) < size:
            buffer.append(item)
            continue
        k = int(rng.integers(size))
        buffer[k], item = item, buffer[k]
        yield item
    while buffer:
        yield buffer.pop(int(rng.integers(len(buffer))))


def skip_reason(err: Exception) -> str:
    """Why a sample was skipped: an ``InputError``'s reason, else the exception type and message."""
    if isinstance(err, InputError):
        return err.reason
    if isinstance(err, DataError):
        raise err
    return f"{type(err).__name__}: {err}"
