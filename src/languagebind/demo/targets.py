"""The acceptance targets of the demo (issues 5 and 14), checked against a ``metrics.json`` dictionary.

The five VIDAL towers keep issue 5's targets; the point-cloud and IMU towers (issue 14) have their own: a point
cloud's zero-shot top-1 over the categories >= 0.9; an IMU's attribute precision@1 (direction x speed) >= 0.5
(its zero-shot task, over the 8 motions, has no target); every emergent pair with one of them >= 0.8 precision@1
on the category when both sides perceive it, else on the attributes they share (IMU <-> video: direction and
speed; IMU <-> audio: speed). IMU perceives no (category, value) pair, so the compositional target skips it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from languagebind.data.synthetic.captions import perceives

ZERO_SHOT = 0.95
EMERGENT = 0.9
ATTRIBUTE = 0.5
COMPOSITIONAL = 3.0  # x chance
MIN_ITEMS = 500
# issue 14's modalities: their zero-shot target (None: reported, no target) and their emergent target
NEW_ZERO_SHOT: dict[str, float | None] = {"point": 0.9, "imu": None}
NEW_EMERGENT = 0.8

TARGETS = {
    "zero_shot": f"zero-shot top-1 >= {ZERO_SHOT} (point cloud >= {NEW_ZERO_SHOT['point']}; IMU: none)",
    "emergent": f"emergent category P@1 >= {EMERGENT} (pairs with a point cloud or IMU: >= {NEW_EMERGENT}, "
                "IMU pairs on their shared attributes)",
    "attribute": f"attribute P@1 >= {ATTRIBUTE}",
    "compositional": f"compositional top-1 >= {COMPOSITIONAL:g}x chance (not IMU)",
    "held_out": f"held-out split >= {MIN_ITEMS} items",
}


def zero_shot_target(modality: str) -> float | None:
    return NEW_ZERO_SHOT.get(modality, ZERO_SHOT)


def emergent_target(name: str, entry: Mapping[str, Any]) -> tuple[str, float, float]:
    """(what is judged, its score, the target) of an emergent pair ``"a->b"``."""
    a, b = name.split("->")
    new = a in NEW_ZERO_SHOT or b in NEW_ZERO_SHOT
    shared = [s for s in entry.get("shared_attributes", []) if s != "category"]
    if "category" in entry.get("shared_attributes", ["category"]):
        return "category", entry["precision@1"], NEW_EMERGENT if new else EMERGENT
    return "+".join(shared), entry["shared_attribute_precision@1"], NEW_EMERGENT


def has_compositional_target(modality: str) -> bool:
    """Whether the compositional split holds combinations new to ``modality`` (it perceives the category)."""
    return "category" in perceives(modality)


def check_targets(metrics: Mapping[str, Any], min_items: int = MIN_ITEMS) -> list[str]:
    """The targets that ``metrics`` misses, one line each naming the entry and its number (empty: all met)."""
    failed = []
    for m, z in metrics["zero_shot"].items():
        target = zero_shot_target(m)
        if target is not None and z["top1"] < target:
            failed.append(f"zero-shot {m} {z['top1']:.3f} < {target}")
        if z["n"] < min_items:
            failed.append(f"held-out {m} has {z['n']} < {min_items} items")
    for name, e in metrics["emergent"].items():
        judged, score, target = emergent_target(name, e)
        if score < target:
            failed.append(f"emergent {name} {judged} {score:.3f} < {target}")
    for name, r in metrics["retrieval"].items():
        if r["attribute_precision@1"] < ATTRIBUTE:
            failed.append(f"attribute P@1 {name} {r['attribute_precision@1']:.3f} < {ATTRIBUTE}")
    for m, c in metrics["compositional"].items():
        if has_compositional_target(m) and c["top1"] < COMPOSITIONAL * c["chance"]:
            failed.append(f"compositional {m} {c['top1']:.3f} < {COMPOSITIONAL:g} x {c['chance']:.3f}")
    return failed
