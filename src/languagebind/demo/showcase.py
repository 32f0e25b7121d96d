"""What the demo shows besides the numbers: the report's figures and examples, and the closing search session."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from languagebind.data.synthetic.captions import attributes_match, caption, perceives, zero_shot_labels
from languagebind.demo import figures
from languagebind.demo.data import Split, split_tensors
from languagebind.demo.evaluate import SplitEmbeddings, emergent_hit_attributes
from languagebind.demo.html import Example, ReportInputs, Result, build_report
from languagebind.demo.presets import SHOWCASE_PAIR
from languagebind.demo.text import TextBank
from languagebind.index import ArraySource, build_index, open_index

PER_CATEGORY = 8  # items per category in the similarity matrices
TOP = 5  # results shown per example


def by_category(metas: Sequence[Mapping[str, Any]], categories: Sequence[str], per: int = PER_CATEGORY) -> list[int]:
    """The first ``per`` items of each category, grouped in category order (rows of a block matrix)."""
    rows = []
    for c in categories:
        rows += [i for i, m in enumerate(metas) if m["category"] == c][:per]
    return rows


def thumbnails(model: Any, split: Split, cache_dir: Path, rows: Sequence[int]) -> dict[str, dict[int, str]]:
    """PNG data URIs of the preprocessed items ``rows`` of every loaded modality."""
    out: dict[str, dict[int, str]] = {}
    for m in model.modalities:
        pixels = split_tensors(split, m, model.processor_config(m), cache_dir)
        out[m] = {i: figures.thumbnail(m, pixels[i].float().numpy()) for i in sorted(set(rows))}
    return out


def build_showcase(metrics: Mapping[str, Any], losses: Mapping[str, Sequence[float]], test: SplitEmbeddings,
                   split: Split, cache_dir: Path, model: Any, bank: TextBank,
                   matrices: Mapping[str, np.ndarray], categories: Sequence[str]) -> str:
    """The report page: metrics, loss curves, block similarity matrices, text and emergent retrieval examples."""
    metas, emb = test.metas, test.embeddings
    rows = by_category(metas, categories)
    heatmaps = []
    for name in list(metrics["emergent"])[::2][:3]:
        a, b = name.split("->")
        heatmaps.append((f"EMERGENT {a} x {b}", figures.heatmap(emb[a][rows] @ emb[b][rows].T),
                         f"{len(rows)} test items, {PER_CATEGORY} per category in the order {', '.join(categories)}; "
                         f"bright diagonal blocks = same category, though {a} and {b} were never paired"))
    first = next((m for m in emb if "category" in perceives(m)), next(iter(emb)))
    texts = zero_shot_labels(first, categories)
    zero_shot = figures.heatmap(emb[first][rows] @ bank(texts).T, 4)
    heatmaps.append((f"zero-shot: {first} items x category labels", zero_shot,
                     f"rows: {len(rows)} test {first} items grouped by category; columns: '{texts[0]}', "
                     f"'{texts[1]}', ... (one per category)"))
    first_of = {}
    for i in rows:
        first_of.setdefault(metas[i]["category"], i)
    picks = list(first_of.values())  # one query item per category
    plans = []  # (title, query modality or None, query row, result modality, result rows, hit rule)
    for n, (name, sim) in enumerate(matrices.items()):
        m, query = name.split("->")[1], picks[n % len(picks)]
        plans.append((f'text -> {m}: "{caption(m, metas[query])}"', None, query, m, np.argsort(-sim[query])[:TOP]))
    for n, name in enumerate(list(metrics["emergent"])[:4]):
        (a, b), query = name.split("->"), picks[(n + len(matrices)) % len(picks)]
        top = np.argsort(-(emb[a][query] @ emb[b].T))[:TOP]
        named = ", ".join(f"{metas[query][k]}" for k in emergent_hit_attributes(a, b))
        plans.append((f"EMERGENT {a} -> {b}: a {named} {a} item", a, query, b, top))
    pictures = thumbnails(model, split, cache_dir, [r for p in plans for r in (p[2], *p[4])])
    examples = []
    for title, source, query, m, top in plans:
        if source is None:  # a text query: hit = every attribute it names
            results = [Result(pictures[m][t], caption(m, metas[t]), attributes_match(metas[query], metas[t], m))
                       for t in top]
        else:  # an item query: hit = same category (or, with IMU, the same motion)
            keys = emergent_hit_attributes(source, m)
            results = [Result(pictures[m][t], " ".join(str(metas[t][k]) for k in keys),
                              all(metas[t][k] == metas[query][k] for k in keys)) for t in top]
        examples.append(Example(title, results, pictures[source][query] if source else None))
    return build_report(metrics, ReportInputs(histories=losses, heatmaps=heatmaps, examples=examples))


def search_answers(test: SplitEmbeddings, split: Split, bank: TextBank, queries: Sequence[Sequence[str]],
                   index_dir: Path, k: int = 3) -> list[str]:
    """Index the test items (faiss, exact), answer the text ``queries`` ([modality, text] pairs) and one cross-modal
    query (a video retrieving audio, or the first two indexed modalities); returns the printed lines."""
    build_index(index_dir, [ArraySource(m, emb, [{"path": item} for item in split.ids])
                            for m, emb in test.embeddings.items()])
    row_of = {item: i for i, item in enumerate(split.ids)}
    lines = [f"search: {len(split.ids)} test items per modality indexed (faiss) in {index_dir}"]
    with open_index(index_dir) as index:

        def answer(query: np.ndarray, modality: str) -> None:
            hits = index.search(modality, np.asarray(query, dtype=np.float32)[None], k)[0]
            for hit, meta in zip(hits, index.metadata([h.id for h in hits]), strict=True):
                item = meta["path"] if meta else hit.id
                lines.append(f"      {hit.score:.2f}  {item}  ({caption(modality, split.metas[row_of[item]])})")

        for modality, text in queries:
            if modality not in index.modalities:
                continue
            lines.append(f'  "{text}" -> {modality}:')
            answer(bank([text])[0], modality)
        source, target = SHOWCASE_PAIR if set(SHOWCASE_PAIR) <= set(index.modalities) else \
            (index.modalities[0], index.modalities[-1])
        if source != target:
            query = 0
            lines.append(f"  cross-modal: {source} {split.ids[query]} ({caption(source, split.metas[query])}) -> "
                         f"{target}:")
            answer(test.embeddings[source][query], target)
    return lines
