"""Tasks over items that carry several modalities: combined queries (paper Table 6) and emergent
item-to-item retrieval (paper Table 7), run like the single-modality benchmarks (same cache, same options).

```python
from languagebind.evaluation.paired import evaluate_paired, get_paired_task
result = evaluate_paired(get_paired_task("nyu_d:rgb+depth"), "data/nyu", model, cache_dir="cache")
result.to_json()["metrics"]["rgb+depth"]["top1"]
```

Each role of a task is encoded by one tower (``PairedTask.towers``) through that tower's embedding cache,
with the same keys as the single-modality benchmarks: a task after ``eval nyu_d`` encodes only the RGB
files, and a second run encodes nothing. Combined embeddings are made from the cached ones on the fly.
An item counts only when every role of it could be read; every row of a table is computed on the same items.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from languagebind.errors import InputError
from languagebind.evaluation import combined, emergent
from languagebind.evaluation import readers_paired as paired
from languagebind.evaluation.cache import EmbeddingCache, file_key
from languagebind.evaluation.datasets import ClassificationSet, RetrievalSet
from languagebind.evaluation.prompts import paper_rows
from languagebind.evaluation.runner import (
    Encoder,
    _bad_data_error,
    _encode_through_cache,
    class_embeddings,
    encode_texts,
    spread_indices,
)
from languagebind.utils.arithmetic import combine_weights


@dataclass(frozen=True)
class PairedTask:
    """One combined or emergent task: which roles, which tower encodes each, how it is scored."""

    name: str  # "nyu_d:rgb+depth", "llvip:rgb->thermal"
    dataset: str  # the benchmark whose layout it reads ("nyu_d")
    title: str
    kind: str  # "combined" | "emergent"
    roles: tuple[str, ...]  # combined: the roles joined; emergent: (source, target)
    towers: Mapping[str, str]  # role -> tower modality
    reader: Callable[[Path], paired.PairedSet]
    layout: str
    templates: Mapping[str, str] = field(default_factory=dict)  # role -> template set (classification)
    top5: bool = True

    @property
    def headline(self) -> str:
        """The row the task is named after."""
        return "+".join(self.roles) if self.kind == "combined" else f"{self.roles[0]}->{self.roles[1]}"

    @property
    def rows(self) -> list[str]:
        """The table's rows: each role then the combination, or both directions."""
        if self.kind == "combined":
            return combined.variants(self.roles)
        source, target = self.roles
        return [f"{source}->{target}", f"{target}->{source}"]

    @property
    def metrics(self) -> tuple[str, ...]:
        """The table's columns."""
        if self.kind == "emergent":
            return emergent.DIRECTION_METRICS
        if not self.templates:
            return combined.RETRIEVAL_METRICS
        return ("top1", "top5") if self.top5 else ("top1",)

    @property
    def paper_metric(self) -> str:
        """The metric the paper reports for every row."""
        return {"emergent": "R@1"}.get(self.kind, "top1" if self.templates else "t2x_R@1")


NYU_LAYOUT = "depth/[val/]<10 scene folders>/*.png (uint16 mm) + rgb/ with the same relative paths (.jpg|.png)"
LLVIP_LAYOUT = "infrared/[val/]{background,person}/*.jpg + visible/ with the same relative paths"


def _nyu(kind: str, roles: tuple[str, ...]) -> PairedTask:
    return PairedTask(f"nyu_d:{_join(kind, roles)}", "nyu_d", "NYU-D v2 (RGB + depth)", kind, roles,
                      {"rgb": "image", "depth": "depth"}, paired.read_nyu_d_pairs, NYU_LAYOUT,
                      {"rgb": "photo", "depth": "depth"} if kind == "combined" else {})


def _llvip(kind: str, roles: tuple[str, ...]) -> PairedTask:
    return PairedTask(f"llvip:{_join(kind, roles)}", "llvip", "LLVIP (RGB + infrared crops)", kind, roles,
                      {"rgb": "image", "thermal": "thermal"}, paired.read_llvip_pairs, LLVIP_LAYOUT,
                      {"rgb": "photo", "thermal": "photo"} if kind == "combined" else {}, top5=False)


def _join(kind: str, roles: tuple[str, ...]) -> str:
    return "+".join(roles) if kind == "combined" else "->".join(roles)


PAIRED_TASKS: dict[str, PairedTask] = {t.name: t for t in [
    _nyu("combined", ("rgb", "depth")),
    _llvip("combined", ("rgb", "thermal")),
    PairedTask("msrvtt:video+audio", "msrvtt", "MSR-VTT 1k-A (video + its sound track)", "combined",
               ("video", "audio"), {"video": "video", "audio": "audio"}, paired.read_msrvtt_pairs,
               "MSRVTT_JSFUSION_test.csv + <video_id>.mp4 (with sound)"),
    _llvip("emergent", ("rgb", "thermal")),
    _llvip("emergent", ("thermal", "rgb")),
    _nyu("emergent", ("rgb", "depth")),
    _nyu("emergent", ("depth", "rgb")),
    PairedTask("ave:rgb->audio", "ave", "AVE (video frames <-> sound track)", "emergent", ("rgb", "audio"),
               {"rgb": "video", "audio": "audio"}, paired.read_ave,
               "testSet.txt|Annotations.txt (Category&VideoID&Quality&StartTime&EndTime) + AVE/<VideoID>.mp4"),
    PairedTask("vggsound:rgb->audio", "vggsound", "VGGSound test (video frames <-> sound track)", "emergent",
               ("rgb", "audio"), {"rgb": "video", "audio": "audio"}, paired.read_vggsound_pairs,
               "vggsound.csv + <youtube_id>_<start:06d>.mp4 [+ .wav of the same stem]"),
]}


def is_paired_task(name: str) -> bool:
    """Names with ``:`` are tasks of this module (``nyu_d:rgb+depth``); the others single benchmarks."""
    return ":" in name


def get_paired_task(name: str) -> PairedTask:
    """A task by name (case-insensitive; ``-`` for ``_`` in the dataset, spaces ignored; ``rgb2audio`` for
    ``rgb->audio``, which needs no quoting in a shell)."""
    dataset, _, rest = name.strip().lower().replace(" ", "").partition(":")
    if "->" not in rest and "+" not in rest:
        rest = rest.replace("2", "->", 1)
    key = f"{dataset.replace('-', '_')}:{rest}"
    if key not in PAIRED_TASKS:
        raise InputError(name, f"unknown combined/emergent task; known: {', '.join(PAIRED_TASKS)}")
    return PAIRED_TASKS[key]


def paper_paired(task: PairedTask) -> dict[str, dict]:
    """The paper's numbers for the task's rows: ``{row: {"value", "metric", "verified", "source"}}``."""
    rows = task.rows
    return {r["variant"]: {k: r[k] for k in ("value", "metric", "verified", "source")}
            for r in paper_rows("paper_results_paired.json") if r["dataset"] == task.dataset and r["variant"] in rows}


@dataclass
class PairedResult:
    """Everything one run produced; ``to_json`` is the results.json content."""

    task: PairedTask
    n: int
    n_total: int
    metrics: dict[str, dict[str, float]]
    weights: dict[str, float]
    missing: list[tuple[str, str, str]] = field(default_factory=list)  # items left out: (path, role, reason)
    incomplete: list[tuple[str, str, str]] = field(default_factory=list)  # kept without this role (partial)
    n_captions: int | None = None
    limit: int | None = None
    fingerprints: dict[str, str] = field(default_factory=dict)
    encoded: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        t = self.task
        out: dict[str, Any] = {"benchmark": t.name, "kind": t.kind, "title": t.title, "n": self.n,
                               "headline": t.headline, "metrics": self.metrics, "towers": dict(t.towers)}
        if t.kind == "combined":
            out["weights"] = self.weights
        out.update({"n_total": self.n_total, "n_missing": len(self.missing), "limit": self.limit})
        if self.n_captions is not None:
            out["n_captions"] = self.n_captions
        out["missing"] = [{"path": p, "role": r, "reason": why} for p, r, why in self.missing]
        if t.kind == "combined":
            out["incomplete"] = [{"path": p, "role": r, "reason": why} for p, r, why in self.incomplete]
        out["paper"] = {row: {v["metric"]: v["value"]} for row, v in paper_paired(t).items()}
        out["checkpoint_fingerprints"] = self.fingerprints
        out["encoded"] = self.encoded
        out["seconds"] = round(self.seconds, 3)
        return out


def evaluate_paired(task: PairedTask, data_dir: str | Path, encoder: Encoder, *, limit: int | None = None,
                    allow_missing: bool = False, partial: bool = False, batch_size: int = 32,
                    cache_dir: str | Path | None = None, weights: Mapping[str, float] | None = None,
                    progress: bool | None = None) -> PairedResult:
    """Run ``task`` on the public layout in ``data_dir``; see the module docstring.

    ``weights`` (combined tasks) weigh the roles in the combined query, 1 each by default. ``partial``
    (combined tasks) keeps an item that lacks some of its modalities (a video without a sound track): its
    combined query is made of the modalities it has, and each modality's row counts the items that have it.
    ``allow_missing`` leaves out the items that cannot be used at all instead of stopping.
    """
    started = time.perf_counter()
    if task.kind != "combined" and (weights is not None or partial):
        raise InputError("--weights" if weights is not None else "--partial",
                         f"{task.name} combines nothing (emergent retrieval needs both modalities of every item)")
    weight_of = combine_weights(list(task.roles), weights)
    data_dir = Path(data_dir)
    try:
        dataset = task.reader(data_dir)
    except InputError as err:
        raise InputError(err.item, f"{err.reason} (expected layout for {task.name}: {task.layout})") from err
    n_total = len(dataset)
    dataset = dataset.subset(spread_indices(n_total, limit))
    roles, total = list(task.roles), len(dataset)
    unreadable: dict[str, dict[int, str]] = {role: {i: "file not found" for i, path in enumerate(dataset.files[role])
                                                    if not path.is_file()} for role in roles}

    def lost() -> list[int]:
        """Items that cannot be used: one unreadable role (all of them with ``partial``)."""
        count = [sum(i in unreadable[r] for r in roles) for i in range(total)]
        return [i for i in range(total) if count[i] == len(roles) or (count[i] and not partial)]

    def check() -> None:
        if not allow_missing and lost():
            raise _bad_data_error(data_dir, [(f"{p} ({r})", why) for p, r, why in _reasons(lost())], total)

    def _reasons(indices: list[int]) -> list[tuple[str, str, str]]:
        return [(str(dataset.files[r][i]), r, unreadable[r][i]) for i in indices for r in roles if i in unreadable[r]]

    check()
    fingerprints = {role: encoder.checkpoint_fingerprint(task.towers[role]) for role in roles}
    caches = {role: EmbeddingCache(Path(cache_dir) if cache_dir is not None else None, fingerprints[role])
              for role in roles}
    vectors: dict[str, dict[int, np.ndarray]] = {}
    encoded: dict[str, int] = {}
    for role in roles:
        modality, files = task.towers[role], dataset.files[role]
        skip = set(lost()) | set(unreadable[role])
        todo = [i for i in range(total) if i not in skip]
        table, failures, encoded[role] = _encode_through_cache(
            encoder, modality, [str(files[i]) for i in todo], [file_key(files[i], modality) for i in todo],
            caches[role], batch_size, progress)
        unreadable[role].update((todo[j], reason) for j, reason in failures)
        vectors[role] = {todo[j]: v for j, v in table.items()}
    check()
    dropped = set(lost())
    keep = [i for i in range(total) if i not in dropped]
    if not keep:
        raise InputError(data_dir, "no item could be read in every modality, nothing to evaluate")
    missing = [next(x for x in _reasons([i])) for i in sorted(dropped)]
    incomplete = _reasons(keep)
    width = len(next(v for role in roles for v in vectors[role].values()))
    items = {role: torch.from_numpy(np.stack([vectors[role].get(i, np.zeros(width, np.float32)) for i in keep]))
             for role in roles}
    available = {role: np.array([i in vectors[role] for i in keep]) for role in roles}
    dataset = dataset.subset(keep)
    result = PairedResult(task, n=len(keep), n_total=n_total, metrics={}, weights=weight_of, missing=missing,
                          incomplete=incomplete, limit=limit, fingerprints=fingerprints)
    texts = 0
    if task.kind == "emergent":
        source, target = task.roles
        result.metrics = emergent.emergent_scores(items, source, target)
    elif isinstance(dataset.base, RetrievalSet):
        text, texts = encode_texts(encoder, dataset.base.captions, caches[roles[0]], batch_size, progress)
        rows = combined.row_embeddings(items, available, weight_of)
        result.metrics = combined.retrieval_scores(rows, text, dataset.base.caption_item)
        result.n_captions = len(dataset.base.captions)
    elif isinstance(dataset.base, ClassificationSet):
        classifiers = {}
        for role in roles:
            classifiers[role], count = class_embeddings(encoder, dataset.base.classnames, task.templates[role],
                                                        caches[role], batch_size, progress)
            texts += count
        ks = (1, 5) if task.top5 else (1,)
        rows = combined.row_embeddings(items, available, weight_of)
        result.metrics = combined.classification_scores(rows, classifiers, dataset.base.labels, ks, weight_of)
    else:
        raise InputError(task.name, "the reader returned no ground truth for a combined task")
    result.encoded = {"items": encoded, "texts": texts}
    result.seconds = time.perf_counter() - started
    return result


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def markdown_paired(result: Mapping[str, Any]) -> str:
    """A Markdown table of one paired results.json dict: one row per role (or direction), the metrics as
    columns, and the paper's number (its metric named in the header) beside ours."""
    task = get_paired_task(result["benchmark"])
    paper = paper_paired(task)
    n = f"n = {result['n']}" + (f" of {result['n_total']}" if result.get("n_total", result["n"]) != result["n"] else "")
    if result.get("n_captions") is not None:
        n += f", {result['n_captions']} captions"
    towers = ", ".join(f"{role}: {tower} tower" for role, tower in result.get("towers", task.towers).items())
    lines = [f"### {task.title} ({task.name}; {n}; {towers})", ""]
    if task.kind == "combined":
        weights = result.get("weights") or {}
        lines += ["combined query: normalize(" + " + ".join(f"{weights.get(r, 1.0):g}·{r}" for r in task.roles)
                  + ") of unit embeddings", ""]
    sizes = {row: result["metrics"].get(row, {}).get("n") for row in task.rows}
    per_row_n = len(set(sizes.values())) > 1
    header = ["query" if task.kind == "combined" else "query->gallery", *task.metrics,
              *(["n"] if per_row_n else []), f"paper ({task.paper_metric})"]
    lines += ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for row in task.rows:
        ours = result["metrics"].get(row, {})
        published = paper.get(row)
        cell = "—" if published is None else f"{published['value']:.1f}" + ("" if published["verified"] else "?")
        name = f"**{row}**" if row == task.headline else row
        counts = [str(sizes[row])] if per_row_n else []
        lines.append("| " + " | ".join([name, *(_fmt(ours.get(m)) for m in task.metrics), *counts, cell]) + " |")
    if result.get("n_missing"):
        lines.append(f"\n{result['n_missing']} item(s) with a missing or unreadable file were left out "
                     "(listed in results.json).")
    if result.get("incomplete"):
        lines.append(f"\n{len(result['incomplete'])} item(s) lack a modality (listed in results.json): the combined "
                     "query uses the modalities they have, and each modality's row counts only the items that have it.")
    if any(not row["verified"] for row in paper.values()):
        lines.append("\n`?`: transcribed paper number not double-checked against the paper.")
    return "\n".join(lines) + "\n"
