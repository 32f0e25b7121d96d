"""The acceptance targets of the demo (issue 5), checked against a ``metrics.json`` dictionary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TARGETS = {
    "zero_shot": "zero-shot top-1 >= 0.95",
    "emergent": "emergent category P@1 >= 0.9",
    "attribute": "attribute P@1 >= 0.5",
    "compositional": "compositional top-1 >= 3x chance",
    "held_out": "held-out split >= 500 items",
}


def check_targets(metrics: Mapping[str, Any], min_items: int = 500) -> list[str]:
    """The targets that ``metrics`` misses, one line each naming the entry and its number (empty: all met)."""
    failed = []
    for m, z in metrics["zero_shot"].items():
        if z["top1"] < 0.95:
            failed.append(f"zero-shot {m} {z['top1']:.3f} < 0.95")
        if z["n"] < min_items:
            failed.append(f"held-out {m} has {z['n']} < {min_items} items")
    for name, e in metrics["emergent"].items():
        if e["precision@1"] < 0.9:
            failed.append(f"emergent {name} {e['precision@1']:.3f} < 0.9")
    for name, r in metrics["retrieval"].items():
        if r["attribute_precision@1"] < 0.5:
            failed.append(f"attribute P@1 {name} {r['attribute_precision@1']:.3f} < 0.5")
    for m, c in metrics["compositional"].items():
        if c["top1"] < 3 * c["chance"]:
            failed.append(f"compositional {m} {c['top1']:.3f} < 3 x {c['chance']:.3f}")
    return failed
