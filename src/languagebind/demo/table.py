"""The demo's one printed table, read from the ``metrics.json`` dictionary (chance beside every number)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from languagebind.data.synthetic.captions import perceives
from languagebind.demo.targets import TARGETS, check_targets, emergent_target


def _pair(score: float, chance: float) -> str:
    return f"{score:5.3f} ({chance:.3f})"


def format_table(metrics: Mapping[str, Any]) -> str:
    """A plain-text table of every number in ``metrics`` (``score (chance)``), then the targets it meets."""
    zero, retrieval, comp = metrics["zero_shot"], metrics["retrieval"], metrics["compositional"]
    modalities = list(zero)
    names = ("zero-shot top-1", "text->item R@1", "R@5", "R@10", "attribute P@1", "compositional")
    head = f"{'modality':<9} " + " ".join(f"{name:>15}" for name in names)
    lines = ["score (chance) on held-out splits; n items per modality: "
             + ", ".join(f"{m} {zero[m]['n']}" for m in modalities), head, "-" * len(head)]
    for m in modalities:
        r = retrieval.get(f"text->{m}", {})
        c = comp.get(m)
        cells = [_pair(zero[m]["top1"], zero[m]["chance"])]
        cells += [_pair(r[f"R@{k}"], r[f"chance_R@{k}"]) if r else "-" for k in (1, 5, 10)]
        cells.append(_pair(r["attribute_precision@1"], r["chance"]) if r else "-")
        cells.append(_pair(c["top1"], c["chance"]) if c else "-")
        lines.append(f"{m:<9} " + " ".join(f"{cell:>15}" for cell in cells))
    motion_only = [m for m in modalities if "category" not in perceives(m)]
    if motion_only:
        lines.append(f"({', '.join(motion_only)}: zero-shot over every combination of "
                     f"{' x '.join(perceives(motion_only[0]))}; no category, so no held-out pair is new to it)")
    if metrics["emergent"]:
        lines += ["", "EMERGENT item->item retrieval between towers never paired in training (each saw only text)",
                  f"{'query->gallery':<18} {'category P@1':>15} {'shared attributes':<24} {'their P@1':>15}  "
                  "target", "-" * 95]
        for name, e in metrics["emergent"].items():
            shared = "+".join(e.get("shared_attributes", [])) or "-"
            judged, score, target = emergent_target(name, e)
            lines.append(f"{name:<18} {_pair(e['precision@1'], e['chance']):>15} {shared:<24} "
                         f"{_pair(e['shared_attribute_precision@1'], e['shared_attribute_chance']):>15}  "
                         f"{judged} >= {target} {'met' if score >= target else 'MISSED'}")
    seconds = metrics.get("seconds")
    if seconds:
        lines += ["", "seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items())]
    failed = check_targets(metrics)
    lines.append("targets: " + ("all met (" + "; ".join(TARGETS.values()) + ")" if not failed
                                else "NOT met: " + "; ".join(failed)))
    return "\n".join(lines)
