"""``report.html``: one self-contained page (inline SVG charts, base64 PNG pictures) built from ``metrics.json``,
the training loss curves, similarity matrices and retrieval examples."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from languagebind.demo import figures
from languagebind.demo.table import format_table

STYLE = """
body { font-family: sans-serif; margin: 24px auto; max-width: 1100px; color: #222; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 13px; } td, th { padding: 3px 8px; border-bottom: 1px solid #eee; }
th { text-align: left; background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.chance { color: #888; } .row { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
figure { margin: 0; } figcaption { font-size: 12px; color: #555; max-width: 420px; }
.example { margin: 10px 0; } .query { font-weight: bold; font-size: 13px; margin-bottom: 4px; }
.hit { border: 3px solid #59a14f; } .miss { border: 3px solid #e15759; }
.result { display: inline-block; text-align: center; font-size: 10px; margin-right: 6px; max-width: 140px; }
.result img { display: block; margin: 0 auto 2px; image-rendering: pixelated; height: 64px; }
pre { font-size: 11px; background: #f8f8f8; padding: 8px; overflow-x: auto; }
"""


@dataclass
class Result:
    """One retrieved item: its thumbnail (data URI), a label, and whether it counts as a hit."""

    thumbnail: str
    label: str
    hit: bool


@dataclass
class Example:
    """A query (text, or an item shown by its thumbnail) and its top results."""

    title: str
    results: list[Result]
    query_thumbnail: str | None = None


@dataclass
class ReportInputs:
    """Everything the report shows besides ``metrics``."""

    histories: Mapping[str, Sequence[float]] = field(default_factory=dict)  # modality -> loss per step
    heatmaps: list[tuple[str, str, str]] = field(default_factory=list)  # (title, PNG data URI, caption)
    examples: list[Example] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _cell(score: float, chance: float) -> str:
    return f'<td class="num">{score:.3f} <span class="chance">({chance:.3f})</span></td>'


def metrics_tables(metrics: Mapping[str, Any]) -> tuple[str, str]:
    """The printed table's numbers as HTML tables: (per modality, emergent pairs)."""
    rows = []
    for m, z in metrics["zero_shot"].items():
        r = metrics["retrieval"].get(f"text->{m}")
        c = metrics["compositional"].get(m)
        cells = [_cell(z["top1"], z["chance"])]
        cells += [_cell(r[f"R@{k}"], r[f"chance_R@{k}"]) for k in (1, 5, 10)] if r else ["<td>-</td>"] * 3
        cells.append(_cell(r["attribute_precision@1"], r["chance"]) if r else "<td>-</td>")
        cells.append(_cell(c["top1"], c["chance"]) if c else "<td>-</td>")
        rows.append(f"<tr><th>{m}</th>{''.join(cells)}<td class='num'>{z['n']}</td></tr>")
    main = ("<table><tr><th>modality</th><th>zero-shot top-1</th><th>text&rarr;item R@1</th><th>R@5</th>"
            "<th>R@10</th><th>attribute P@1</th><th>compositional top-1</th><th>n</th></tr>"
            + "".join(rows) + "</table>")
    emergent_rows = "".join(
        f"<tr><th>{html.escape(name)}</th>{_cell(e['precision@1'], e['chance'])}"
        f"<td>{html.escape(', '.join(e.get('shared_attributes', [])))}</td>"
        f"{_cell(e['shared_attribute_precision@1'], e['shared_attribute_chance'])}<td class='num'>{e['n']}</td></tr>"
        for name, e in metrics["emergent"].items())
    emergent = ("<table><tr><th>query&rarr;gallery</th><th>category P@1</th><th>shared attributes</th>"
                "<th>their P@1</th><th>n</th></tr>" + emergent_rows + "</table>") if emergent_rows else ""
    return main, emergent


def _example_html(example: Example) -> str:
    query = (f'<img src="{example.query_thumbnail}" style="height:48px;vertical-align:middle"> '
             if example.query_thumbnail else "")
    results = "".join(
        f'<div class="result"><img class="{"hit" if r.hit else "miss"}" src="{r.thumbnail}">'
        f"{html.escape(r.label)}</div>" for r in example.results)
    return f'<div class="example"><div class="query">{query}{html.escape(example.title)}</div>{results}</div>'


def build_report(metrics: Mapping[str, Any], inputs: ReportInputs) -> str:
    """The whole page as one HTML string."""
    main, emergent = metrics_tables(metrics)
    bars = {f"zero-shot {m}": (z["top1"], z["chance"]) for m, z in metrics["zero_shot"].items()}
    bars.update({f"{n} (emergent)": (e["precision@1"], e["chance"]) for n, e in metrics["emergent"].items()})
    bars.update({f"attr P@1 {n}": (r["attribute_precision@1"], r["chance"]) for n, r in metrics["retrieval"].items()})
    bars.update({f"compositional {m}": (c["top1"], c["chance"]) for m, c in metrics["compositional"].items()})
    loss = figures.line_chart(inputs.histories, title="training loss (each tower against the frozen text tower)")
    heatmaps = "".join(f'<figure><img src="{uri}" alt="{html.escape(title)}"><figcaption><b>{html.escape(title)}'
                       f"</b><br>{html.escape(caption)}</figcaption></figure>"
                       for title, uri, caption in inputs.heatmaps)
    sections = [
        "<h1>LanguageBind demo: binding five modalities through language</h1>",
        "<p>Each tower (video, audio, depth, thermal, image) was trained <i>only</i> with its own "
        "(item, caption) pairs against one frozen language tower (MiniLM). Items of different modalities were "
        "never paired, yet they retrieve each other: the alignment emerges through language. "
        "Numbers are <b>score (chance)</b> on held-out splits.</p>",
        *[f"<p>{html.escape(note)}</p>" for note in inputs.notes],
        "<h2>Results</h2>", main, "<h2>Emergent cross-modal retrieval</h2>", emergent,
        "<div class='row'>", figures.bar_chart(bars, title="score (bar) vs chance (tick)"), "</div>",
        "<h2>Training</h2>", loss,
        "<h2>Similarity matrices</h2><div class='row'>", heatmaps, "</div>",
        "<h2>Retrieval examples</h2><p>green: a hit (matches what the query names), red: a miss.</p>",
        *[_example_html(e) for e in inputs.examples],
        "<h2>Printed table</h2><pre>", html.escape(format_table(metrics)), "</pre>",
    ]
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>LanguageBind demo</title>"
            f"<style>{STYLE}</style></head><body>" + "".join(sections) + "</body></html>")
