"""Stages as small declared operators, and the one loop that runs an operator over a shard's samples.

An operator declares its ``kind``, the sample fields it reads (``inputs``) and writes (``outputs``), its
resources (``cpus``, ``gpus``) and ``batch_size``; ``setup()`` loads its model once per worker and ``process``
handles one batch of samples. Executors only see this interface, so the same stages run in one process, in a
process pool, or as Ray actors.
"""

from __future__ import annotations

import importlib
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from languagebind.errors import ConfigError, InputError
from languagebind.vidal.sample import Rejected, Sample

# Fields every sample has before any stage runs.
BASE_FIELDS = ("source", "title", "hashtags")

# kind -> "module:Class"; imported only when a config uses the kind, so parsing a config stays light.
OPERATORS: dict[str, str] = {
    "probe": "languagebind.vidal.stages_media:ProbeFilter",
    "keyframes": "languagebind.vidal.stages_media:Keyframes",
    "audio": "languagebind.vidal.stages_media:AudioTrack",
    "depth": "languagebind.vidal.depth:DepthEstimation",
    "thermal": "languagebind.vidal.thermal:ThermalTranslation",
    "keyframe_captions": "languagebind.vidal.captions:KeyframeCaptions",
    "video_caption": "languagebind.vidal.captions:VideoCaption",
    "polish": "languagebind.vidal.polish:Polish",
    "pack": "languagebind.vidal.pack:Pack",
}


@dataclass(frozen=True)
class Resources:
    """What one worker of a stage needs: CPU threads and GPUs (fractions allowed, as in Ray)."""

    cpus: float = 1.0
    gpus: float = 0.0


@dataclass(kw_only=True)
class Operator:
    """Base of every stage; subclasses are dataclasses whose fields are the stage's config options."""

    kind: ClassVar[str] = ""
    inputs: ClassVar[tuple[str, ...]] = ()
    optional_inputs: ClassVar[tuple[str, ...]] = ()
    outputs: ClassVar[tuple[str, ...]] = ()
    uses_model: ClassVar[bool] = False
    # a stage that makes a modality writes it to the field of that name; the pack stage asks it for its files
    modality: ClassVar[str] = ""

    name: str = ""
    batch_size: int = 1
    cpus: float = 1.0
    gpus: float = 0.0
    _ready: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.name = self.name or self.kind
        if self.batch_size < 1:
            raise ConfigError(f"stage {self.name}: batch_size must be >= 1")
        if self.cpus <= 0 or self.gpus < 0:
            raise ConfigError(f"stage {self.name}: cpus must be > 0 and gpus >= 0")

    @property
    def resources(self) -> Resources:
        return Resources(self.cpus, self.gpus)

    def setup(self) -> None:
        """Load models and other heavy state; called once per worker before the first batch."""

    def ensure_setup(self) -> None:
        if not self._ready:
            self.setup()
            self._ready = True

    def process(self, batch: list[Sample]) -> None:
        """Read ``inputs`` from each sample's fields, write ``outputs``; raise `Rejected` to filter one."""
        raise NotImplementedError

    @classmethod
    def members(cls, key: str, fields: dict[str, Any], jpeg_quality: int) -> list[tuple[str, bytes]]:
        """A modality stage's output as shard members of our layout (``<key>.<modality>[.<k>].<ext>``)."""
        return []

    @classmethod
    def official_members(cls, key: str, fields: dict[str, Any], jpeg_quality: int) -> list[tuple[str, bytes]]:
        """The same in the official layout (if it has one)."""
        return []

    def describe(self) -> dict[str, Any]:
        """The options as given (for the plan, the fingerprint and the stats)."""
        return {"kind": self.kind, **{f.name: getattr(self, f.name) for f in fields(self) if f.init}}

    def device(self) -> Any:
        """``cuda`` when the stage declares GPUs and one is visible, else ``cpu``."""
        import torch

        return torch.device("cuda" if self.gpus > 0 and torch.cuda.is_available() else "cpu")


def modality_stages() -> list[type[Operator]]:
    """The stage classes that make a modality (``modality`` set), in ``OPERATORS`` order."""
    classes = [operator_class(kind) for kind in OPERATORS]
    return [c for c in classes if c.modality]


def operator_class(kind: str) -> type[Operator]:
    """The operator class registered for ``kind``."""
    if kind not in OPERATORS:
        raise ConfigError(f"unknown stage kind {kind!r}; known: {', '.join(OPERATORS)}")
    module_name, class_name = OPERATORS[kind].split(":")
    return getattr(importlib.import_module(module_name), class_name)


@dataclass
class StageTiming:
    """Items a stage handled and the seconds it spent, summed over batches (and over workers when merged)."""

    items: int = 0
    seconds: float = 0.0

    def add(self, other: StageTiming) -> None:
        self.items += other.items
        self.seconds += other.seconds


def run_stage(op: Operator, samples: Sequence[Sample]) -> StageTiming:
    """Run ``op`` over the pending samples in batches of ``op.batch_size``.

    A batch that raises is retried one sample at a time, so one bad input is marked (``filtered`` for
    `InputError`, ``failed`` for anything else) without taking its batch-mates down.
    """
    op.ensure_setup()
    _limit_threads(op)
    live = [s for s in samples if s.pending]
    start = time.perf_counter()
    threads = 1 if op.uses_model else int(op.cpus)
    if threads > 1:  # CPU stages with several CPUs: one sample per call on a thread pool (PyAV/Pillow drop the GIL)
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda sample: _process(op, [sample]), live))
    else:
        for first in range(0, len(live), op.batch_size):
            _process(op, live[first:first + op.batch_size])
    return StageTiming(items=len(live), seconds=time.perf_counter() - start)


def _process(op: Operator, batch: list[Sample]) -> None:
    try:
        op.process(batch)
    except Exception as err:
        if len(batch) == 1:
            _mark(batch[0], op, err)
            return
        for sample in batch:
            _process(op, [sample])


def _mark(sample: Sample, op: Operator, err: Exception) -> None:
    if isinstance(err, Rejected):
        sample.drop("filtered", err.code, err.detail, op.name)
    elif isinstance(err, InputError):
        sample.drop("filtered", "bad_input", err.reason, op.name)
    else:
        where = traceback.extract_tb(err.__traceback__)[-1] if err.__traceback__ else None
        location = f" (at {where.filename.rsplit('/', 1)[-1]}:{where.lineno})" if where else ""
        sample.drop("failed", type(err).__name__, f"{err}{location}", op.name)


def _limit_threads(op: Operator) -> None:
    """Model stages compute with as many torch threads as they declare CPUs (same numerics in every executor)."""
    if op.uses_model:
        import torch

        torch.set_num_threads(max(1, int(op.cpus)))
