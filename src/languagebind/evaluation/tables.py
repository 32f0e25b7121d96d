"""Results as Markdown: our numbers beside the paper's (LoRA and fully tuned releases)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from languagebind.evaluation.benchmarks import get_benchmark, paper_results


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


def markdown_table(result: Mapping[str, Any]) -> str:
    """A Markdown table of one results.json dict: metric | ours | paper (LoRA) | paper (tuned).

    Paper numbers not double-checked carry a ``?``; ``—`` means the paper number is not in our table.
    """
    benchmark = get_benchmark(result["benchmark"], result.get("modality"))
    paper = paper_results(benchmark.name)
    n = f"n = {result['n']}" + (f" of {result['n_total']}" if result.get("n_total", result["n"]) != result["n"]
                                 else "")
    if result.get("n_captions") is not None:
        n += f", {result['n_captions']} captions"
    lines = [f"### {benchmark.title} ({benchmark.name}, {benchmark.modality}; {n})", "",
             "| metric | ours | paper (LoRA) | paper (tuned) |", "|---|---:|---:|---:|"]
    ours = result["metrics"]
    for metric in benchmark.metrics:
        cells = [metric, _fmt(ours.get(metric))]
        for variant in ("lora", "tuned"):
            row = paper.get(variant, {}).get(metric)
            cells.append("—" if row is None else f"{row['value']:.1f}" + ("" if row["verified"] else "?"))
        lines.append("| " + " | ".join(cells) + " |")
    dual = result.get("metrics_dual_softmax")
    if dual:
        lines += ["", "Dual-softmax re-ranked (transductive; not comparable to the paper):", "",
                  "| metric | ours (DSL) |", "|---|---:|"]
        lines += [f"| {m} | {_fmt(dual.get(m))} |" for m in benchmark.metrics]
    for group, scores in sorted(result.get("by_group", {}).items()):
        lines.append(f"\n{group}: " + ", ".join(f"{k} {_fmt(v)}" for k, v in scores.items()))
    if result.get("n_missing"):
        lines.append(f"\n{result['n_missing']} missing or unreadable file(s) were left out (listed in results.json).")
    if any(not row["verified"] for rows in paper.values() for row in rows.values()):
        lines.append("\n`?`: transcribed paper number not double-checked against the paper.")
    return "\n".join(lines) + "\n"
