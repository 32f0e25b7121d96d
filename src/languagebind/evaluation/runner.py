"""Run one benchmark: read it, encode through the cache, check files, compute the metrics.

The model is anything with the two methods of ``Encoder`` (``LanguageBind`` has them), so the runner can
be tested with a fake encoder.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from languagebind.errors import InputError
from languagebind.evaluation import metrics as M
from languagebind.evaluation.benchmarks import Benchmark, paper_results
from languagebind.evaluation.cache import EmbeddingCache, file_key, item_file, text_key
from languagebind.evaluation.datasets import ClassificationSet, Dataset, RetrievalSet
from languagebind.evaluation.prompts import prompts_for, templates
from languagebind.utils.progress import progress as progress_bar

# What a decoder may raise for one bad file; anything else is a bug and propagates.
ITEM_ERRORS = (InputError, OSError)
# Texts are short and cheap to batch: prompts (classes x templates) go through in batches of at least this.
TEXT_BATCH = 256


class Encoder(Protocol):
    """The part of ``LanguageBind`` the runner needs."""

    def encode(self, modality: str, items: Any, batch_size: int = 32, progress: bool | None = None) -> torch.Tensor:
        """Paths (or texts for ``"text"``) -> (B, P) L2-normalised embeddings."""
        ...

    def checkpoint_fingerprint(self, modality: str) -> str:
        """Stable hash of the tower, the text tower and the preprocessing version."""
        ...


@dataclass
class EvalResult:
    """Everything one run produced; ``to_json`` is the results.json content."""

    benchmark: Benchmark
    n: int
    n_total: int
    metrics: dict[str, float]
    metrics_dual_softmax: dict[str, float] | None = None
    by_group: dict[str, dict[str, float]] = field(default_factory=dict)
    missing: list[tuple[str, str]] = field(default_factory=list)
    n_captions: int | None = None
    limit: int | None = None
    fingerprint: str = ""
    encoded: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        b = self.benchmark
        out: dict[str, Any] = {"benchmark": b.name, "n": self.n, "metrics": self.metrics}
        if self.metrics_dual_softmax is not None:
            out["metrics_dual_softmax"] = self.metrics_dual_softmax
        out.update({"title": b.title, "modality": b.modality, "task": b.task, "n_total": self.n_total,
                    "n_missing": len(self.missing), "limit": self.limit})
        if self.n_captions is not None:
            out["n_captions"] = self.n_captions
        if self.by_group:
            out["by_group"] = self.by_group
        out["missing"] = [{"path": p, "reason": r} for p, r in self.missing]
        out["paper"] = {variant: {m: v["value"] for m, v in rows.items()}
                        for variant, rows in paper_results(b.name).items()}
        out["checkpoint_fingerprint"] = self.fingerprint
        out["encoded"] = self.encoded
        out["seconds"] = round(self.seconds, 3)
        return out


def spread_indices(total: int, limit: int | None) -> list[int]:
    """``limit`` indices spread evenly over ``range(total)`` (all of them without a limit)."""
    if limit is None or limit >= total:
        return list(range(total))
    if limit < 1:
        raise InputError("--limit", "must be at least 1")
    return [i * total // limit for i in range(limit)]


def _progress(total: int, desc: str, enabled: bool | None) -> Any:
    return progress_bar(total=total, desc=desc, enabled=False if total == 0 else enabled, unit="item")


@contextlib.contextmanager
def _flushing(cache: EmbeddingCache) -> Iterator[None]:
    """Write what was encoded to the cache even when the run stops half-way (Ctrl-C, a bad file)."""
    try:
        yield
    finally:
        cache.flush()


def _encode_through_cache(encoder: Encoder, modality: str, items: Sequence[Any], keys: Sequence[str],
                          cache: EmbeddingCache, batch_size: int, progress: bool | None
                          ) -> tuple[dict[int, np.ndarray], list[tuple[int, str]], int]:
    """Embeddings of ``items`` by position (cache first), (position, reason) of the items that failed, and
    how many items were encoded now (not read from the cache)."""
    namespace = "text" if modality == "text" else modality
    found = cache.get(namespace, keys)
    out = {i: v for i, v in enumerate(found) if v is not None}
    todo = [i for i, v in enumerate(found) if v is None]
    failures: list[tuple[int, str]] = []
    with _progress(len(todo), f"encode {modality} ({len(out)} cached)", progress) as bar, _flushing(cache):
        for start in range(0, len(todo), batch_size):
            batch = todo[start:start + batch_size]
            try:
                done = [(batch, encoder.encode(modality, [items[i] for i in batch], batch_size=batch_size,
                                               progress=False))]
            except ITEM_ERRORS:
                if modality == "text":
                    raise
                done = []
                for i in batch:  # find the bad ones; the good ones still count
                    try:
                        done.append(([i], encoder.encode(modality, [items[i]], batch_size=1, progress=False)))
                    except ITEM_ERRORS as err:
                        failures.append((i, getattr(err, "reason", None) or str(err)))
            for positions, emb in done:
                emb = emb.float()  # already L2-normalised by the encoder; kept bit-exact
                cache.put(namespace, [keys[i] for i in positions], emb)
                out.update(zip(positions, emb.numpy(), strict=True))
            bar.update(len(batch))
    return out, failures, len(todo) - len(failures)


def encode_texts(encoder: Encoder, texts: Sequence[str], cache: EmbeddingCache, batch_size: int,
                 progress: bool | None) -> tuple[torch.Tensor, int]:
    """(len(texts), P) embeddings of texts (duplicates encoded once) and how many were encoded now."""
    unique = list(dict.fromkeys(texts))
    table, _, encoded = _encode_through_cache(encoder, "text", unique, [text_key(t) for t in unique], cache,
                                              max(batch_size, TEXT_BATCH), progress)
    rows = {t: table[i] for i, t in enumerate(unique)}
    return torch.from_numpy(np.stack([rows[t] for t in texts])), encoded


def _bad_data_error(data_dir: Path, bad: list[tuple[str, str]], total: int) -> InputError:
    shown = "; ".join(f"{p} ({r})" for p, r in bad[:5])
    more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
    return InputError(data_dir, f"{len(bad)} of {total} files are missing or unreadable: {shown}{more}. Fix them, "
                                f"or pass --allow-missing to evaluate on the other {total - len(bad)}")


def evaluate(benchmark: Benchmark, data_dir: str | Path, encoder: Encoder, *, limit: int | None = None,
             allow_missing: bool = False, batch_size: int = 32, cache_dir: str | Path | None = None,
             dual_softmax: bool = False, progress: bool | None = None) -> EvalResult:
    """Run ``benchmark`` on the public layout in ``data_dir``; see the module docstring."""
    started = time.perf_counter()
    if dual_softmax and benchmark.task != "retrieval":
        raise InputError("--dual-softmax", f"applies to retrieval benchmarks; {benchmark.name} is {benchmark.task}")
    data_dir = Path(data_dir)
    try:
        dataset: Dataset = benchmark.reader(data_dir)
    except InputError as err:
        raise InputError(err.item, f"{err.reason} (expected layout for {benchmark.name}: {benchmark.layout})"
                         ) from err
    n_total = len(dataset.items)
    dataset = dataset.subset(spread_indices(n_total, limit))
    items = dataset.items
    bad = {i: "file not found" for i, p in enumerate(items) if not item_file(p).is_file()}
    if bad and not allow_missing:
        raise _bad_data_error(data_dir, [(str(items[i]), r) for i, r in bad.items()], len(items))
    fingerprint = encoder.checkpoint_fingerprint(benchmark.modality)
    cache = EmbeddingCache(Path(cache_dir) if cache_dir is not None else None, fingerprint)
    present = [i for i in range(len(items)) if i not in bad]
    keys = [file_key(items[i], benchmark.modality) for i in present]
    table, failures, encoded_items = _encode_through_cache(
        encoder, benchmark.modality, [str(items[i]) for i in present], keys, cache, batch_size, progress)
    bad.update((present[j], reason) for j, reason in failures)
    missing = [(str(items[i]), bad[i]) for i in sorted(bad)]
    if missing and not allow_missing:
        raise _bad_data_error(data_dir, missing, len(items))
    by_item = {present[j]: vector for j, vector in table.items()}
    keep = sorted(by_item)
    if not keep:
        raise InputError(data_dir, "no item could be read, nothing to evaluate")
    emb = torch.from_numpy(np.stack([by_item[i] for i in keep]))
    dataset = dataset.subset(keep)
    result = EvalResult(benchmark, n=len(keep), n_total=n_total, metrics={}, missing=missing, limit=limit,
                        fingerprint=fingerprint)
    if isinstance(dataset, RetrievalSet):
        text, encoded_texts = encode_texts(encoder, dataset.captions, cache, batch_size, progress)
        _score_retrieval(result, benchmark, dataset, emb, text, dual_softmax)
    else:
        classes, encoded_texts = _class_embeddings(encoder, benchmark, dataset, cache, batch_size, progress)
        _score_classification(result, benchmark, dataset, emb @ classes.T)
    result.encoded = {"items": encoded_items, "texts": encoded_texts}
    result.seconds = time.perf_counter() - started
    return result


def _class_embeddings(encoder: Encoder, benchmark: Benchmark, dataset: ClassificationSet, cache: EmbeddingCache,
                      batch_size: int, progress: bool | None) -> tuple[torch.Tensor, int]:
    """One embedding per class: the normalised mean of its normalised prompt embeddings (official rule)."""
    template_set = benchmark.prompt_templates or templates(benchmark.templates or "photo")
    texts = prompts_for(dataset.classnames, template_set)
    emb, encoded = encode_texts(encoder, texts, cache, batch_size, progress)
    emb = emb.view(len(dataset.classnames), len(template_set), -1).mean(dim=1)
    return torch.nn.functional.normalize(emb, dim=-1), encoded


def _score_retrieval(result: EvalResult, benchmark: Benchmark, dataset: RetrievalSet, emb: torch.Tensor,
                     text: torch.Tensor, dual_softmax: bool) -> None:
    sim = (text.double() @ emb.double().T).numpy()
    letter = benchmark.letter
    scores = M.retrieval_metrics(sim, dataset.caption_item, letter)
    # unprefixed keys: text -> X, the direction the paper reports
    scores.update({k.split("_", 1)[1]: v for k, v in scores.items() if k.startswith(f"t2{letter}_")})
    result.metrics = scores
    result.n_captions = len(dataset.captions)
    if dual_softmax:
        result.metrics_dual_softmax = M.retrieval_metrics(sim, dataset.caption_item, letter, rerank=True)


def _score_classification(result: EvalResult, benchmark: Benchmark, dataset: ClassificationSet,
                          logits: torch.Tensor) -> None:
    logits = logits.double().numpy()
    if dataset.multilabel:
        targets = np.zeros(logits.shape, dtype=bool)
        for row, labels in enumerate(dataset.targets):
            targets[row, labels] = True
        result.metrics = M.mean_average_precision(logits, targets)
        return
    ks = (1, 5) if "top5" in benchmark.metrics else (1,)
    result.metrics = M.topk_accuracy(logits, dataset.labels, ks)
    for group in sorted(set(dataset.groups)):
        rows = [i for i, g in enumerate(dataset.groups) if g == group]
        result.by_group[group] = M.topk_accuracy(logits[rows], [dataset.labels[i] for i in rows], ks)
