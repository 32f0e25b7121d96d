"""Human-readable plan and throughput tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from languagebind.vidal.operators import Operator


def stage_table(stages: Sequence[Operator]) -> str:
    """One line per stage: name, kind, batch size, resources, model."""
    rows = [("stage", "kind", "batch", "cpus", "gpus", "model")]
    rows += [(op.name, op.kind, str(op.batch_size), f"{op.cpus:g}", f"{op.gpus:g}",
              str(getattr(op, "model", "") or "-")) for op in stages]
    return _table(rows)


def throughput_table(stages: dict[str, dict[str, Any]]) -> str:
    """Per stage: items, busy seconds (summed over workers), items per busy second, ms per item."""
    rows = [("stage", "items", "seconds", "items/s", "ms/item")]
    for name, values in stages.items():
        items, seconds = values["items"], values["seconds"]
        rate = f"{items / seconds:.2f}" if seconds else "-"
        per_item = f"{1000 * seconds / items:.1f}" if items else "-"
        rows.append((name, str(items), f"{seconds:.2f}", rate, per_item))
    return _table(rows)


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in rows)
