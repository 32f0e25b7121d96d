"""What flows through the builder: one `InputItem` per input file, wrapped in a `Sample` while stages run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from languagebind.errors import InputError

STATUSES = ("ok", "filtered", "failed")


class Rejected(InputError):
    """An input that a stage filters out on purpose (too long, no hashtags, undecodable, ...).

    ``code`` is a short machine-readable reason (``too_long``); ``detail`` says more in words.
    """

    def __init__(self, item: object, code: str, detail: str = "") -> None:
        self.code = code
        self.detail = detail
        super().__init__(item, f"{code}: {detail}" if detail else code)


@dataclass(frozen=True)
class InputItem:
    """One input video and its metadata, in the order of the (sorted) input list."""

    index: int
    id: str
    path: str  # absolute path of the video file
    source: str  # the path as recorded in outputs: relative to the input dir / manifest folder
    title: str = ""
    hashtags: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    problem: str = ""  # "reason: detail" when the input is unusable before any stage runs (bad sidecar, dup id)


@dataclass
class Sample:
    """An input while the stages run: stage outputs in ``fields``, its fate in ``status``.

    ``status`` stays ``"pending"`` while stages run and becomes ``"ok"`` when the last stage is done, or
    ``"filtered"`` / ``"failed"`` as soon as a stage drops it (``reason``, ``detail``, ``stage`` say why and where).
    """

    item: InputItem
    fields: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    status: str = "pending"
    reason: str = ""
    detail: str = ""
    stage: str = ""

    @property
    def id(self) -> str:
        return self.item.id

    @property
    def pending(self) -> bool:
        return self.status == "pending"

    def drop(self, status: str, reason: str, detail: str, stage: str) -> None:
        """Take the sample out of the run as ``filtered`` or ``failed``; later stages skip it."""
        if status not in ("filtered", "failed"):
            raise ValueError(f"cannot drop a sample as {status!r}")
        self.status, self.reason, self.detail, self.stage = status, reason, detail[:500], stage
        self.fields.clear()  # free the frames early; a dropped sample writes nothing but its status

    def status_record(self, shard: int) -> dict[str, Any]:
        """The line written for this input to the status files."""
        record: dict[str, Any] = {"index": self.item.index, "id": self.id, "source": self.item.source,
                                  "shard": shard, "status": self.status}
        if self.status != "ok":
            record.update(reason=self.reason, detail=self.detail, stage=self.stage)
        return record
