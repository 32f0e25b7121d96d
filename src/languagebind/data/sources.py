"""Open a training/validation data spec and build its batch stream; iterate it in order for evaluation.

A spec is chosen by its form: ``*.jsonl`` -> our manifest; ``*.json`` -> an official VIDAL annotation (with a
data root: ``data_root``, default the annotation's folder); anything else -> tar shards (a file, a directory, a
glob or brace pattern, or a list). In-memory ``MemoryRecords`` are accepted as they are.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from languagebind.data.manifest import read_manifest
from languagebind.data.records import MemoryRecords, PackedRecords
from languagebind.data.shards import expand_shards, iter_shard, shard_record
from languagebind.data.stream import (
    IndexedBatches,
    LoadedSample,
    Partition,
    SampleLoader,
    ShardBatches,
    Tokenize,
    skip_reason,
)
from languagebind.data.vidal_json import read_vidal

Records = PackedRecords | MemoryRecords
DataSource = Records | list[Path]


def open_source(spec: str | Path | Sequence[str | Path] | Records, data_root: str | Path | None = None,
                limit: int | None = None) -> DataSource:
    """Records (manifest / annotation / in-memory) or a shard list for ``spec``."""
    if isinstance(spec, (PackedRecords, MemoryRecords)):
        return spec
    if isinstance(spec, (str, Path)):
        name = str(spec)
        if name.endswith(".jsonl"):
            return read_manifest(name, limit)
        if name.endswith(".json"):
            return read_vidal(name, data_root if data_root is not None else Path(name).parent, limit)
    return expand_shards(spec)


def build_batches(source: DataSource, loader: SampleLoader, tokenize: Tokenize | None, batch_size: int, seed: int,
                  partition: Partition, start_batch: int = 0, stream_states: dict[int, dict[str, int]] | None = None,
                  shuffle_buffer: int = 64, max_bad_in_a_row: int = 16) -> IndexedBatches | ShardBatches:
    """The training stream of ``source`` (see ``languagebind.data.stream``)."""
    if isinstance(source, list):
        return ShardBatches(source, loader, tokenize, batch_size, seed, partition, start_batch, stream_states,
                            shuffle_buffer, max_bad_in_a_row)
    return IndexedBatches(source, loader, tokenize, batch_size, seed, partition, start_batch, max_bad_in_a_row)


def iter_samples(source: DataSource, loader: SampleLoader, limit: int | None = None, seed: int = 0,
                 skipped: list[tuple[str, str]] | None = None) -> Iterator[LoadedSample]:
    """Samples in data order (shards in list order), up to ``limit`` good ones; bad ones go to ``skipped``."""
    records: Any = (shard_record_or_error(raw) for path in source for raw in iter_shard(path)) \
        if isinstance(source, list) else iter(source)
    count = 0
    for position, record in enumerate(records):
        if limit is not None and count >= limit:
            return
        try:
            if isinstance(record, tuple):
                raise record[1]
            sample = loader(record, np.random.default_rng([seed, position]))
        except Exception as err:  # any decoder failure is a bad sample (skip_reason)
            if skipped is not None:
                skipped.append((record[0] if isinstance(record, tuple) else record.id, skip_reason(err)))
            continue
        count += 1
        yield sample


def shard_record_or_error(raw: Any) -> Any:
    try:
        return shard_record(raw)
    except Exception as err:  # reported by iter_samples
        return (raw.key, err)
