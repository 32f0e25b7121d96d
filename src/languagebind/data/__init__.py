"""Training data: readers (our JSONL manifest, official VIDAL annotation, tar shards), multi-view text sampling,
train-time augmentation and deterministic, resumable batch streams split by rank and DataLoader worker."""

from languagebind.data.augment import AugmentConfig
from languagebind.data.pairs import PairLoader
from languagebind.data.records import Blob, MemoryRecords, PackedRecords, PairRecord
from languagebind.data.sources import DataSource, build_batches, iter_samples, open_source
from languagebind.data.stream import DataError, IndexedBatches, LoadedSample, Partition, ShardBatches
from languagebind.data.text import TextChoice, TextSampler, TextViews
from languagebind.data.titles import clean_title

__all__ = ["AugmentConfig", "Blob", "DataError", "DataSource", "IndexedBatches", "LoadedSample", "MemoryRecords",
           "PackedRecords", "PairLoader", "PairRecord", "Partition", "ShardBatches", "TextChoice", "TextSampler",
           "TextViews", "build_batches", "clean_title", "iter_samples", "open_source"]
