"""The demo's numbers, from embeddings and ground truth only (no model, no files).

Every score is a fraction in [0, 1] with its chance level beside it:

* ``zero_shot[m]``: top-1 over one "a <modality> of a <category>" label per category (a modality that perceives
  no category, IMU: over one label per combination of what it perceives, "... moving left quickly").
* ``retrieval["text->m"]``: each held-out item's own caption (naming only what ``m`` perceives) queries the
  items; R@1/5/10 of that exact item, and attribute precision@1 (the top item has every attribute the caption
  names; chance = the share of items that do).
* ``emergent["a->b"]``: items of ``a`` query items of ``b`` — two towers that never saw each other's data —
  scored as category precision@1 (chance = the share of items of the query's category), plus precision@1 on
  the attributes both modalities perceive (for a pair with IMU, which perceives no category, the one that
  means something: direction and speed with video, speed with audio); both with
  ``evaluation.metrics.same_key_hits``, i.e. the ranking (``positive_ranks``: a tie at the top counts as a hit)
  that scores the emergent benchmark tasks (``languagebind eval 'llvip:rgb->thermal'`` ...).
* ``compositional[m]``: top-1 over the distinct full captions of the compositional split (attribute-category
  combinations never seen in training).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from languagebind.data.synthetic.captions import (
    attributes_match,
    caption,
    caption_labels,
    perceived,
    zero_shot_classes,
)
from languagebind.data.synthetic.vocab import ATTRIBUTES
from languagebind.evaluation.metrics import rank_metrics, same_key_hits, target_ranks

TextEncoder = Callable[[Sequence[str]], np.ndarray]  # texts -> (N, D) L2-normalised
Meta = Mapping[str, Any]


@dataclass
class SplitEmbeddings:
    """One split's L2-normalised item embeddings per modality (same items, same order) and their ground truth."""

    embeddings: dict[str, np.ndarray]
    metas: list[Meta]

    def __post_init__(self) -> None:
        for modality, emb in self.embeddings.items():
            if len(emb) != len(self.metas):
                raise ValueError(f"{modality}: {len(emb)} embeddings for {len(self.metas)} items")


def zero_shot(items: np.ndarray, metas: Sequence[Meta], modality: str, categories: Sequence[str],
              encode_text: TextEncoder) -> dict[str, float]:
    """Top-1 over the modality's zero-shot classes (``zero_shot_classes``: the categories, or for IMU direction x
    speed), one caption per class naming only it; chance = 1 / number of classes."""
    classes = zero_shot_classes(modality, categories)
    labels = encode_text([caption(modality, c) for c in classes])
    truth = np.array([next(k for k, c in enumerate(classes) if all(m[a] == v for a, v in c.items()))
                      for m in metas])
    top1 = float(np.mean((items @ labels.T).argmax(1) == truth))
    return {"top1": top1, "chance": 1.0 / len(classes), "n": len(metas)}


def text_to_item(items: np.ndarray, metas: Sequence[Meta], modality: str, encode_text: TextEncoder
                 ) -> tuple[dict[str, float], np.ndarray]:
    """R@1/5/10 and attribute precision@1 of each item's own caption as the query; also returns the (Q, N)
    similarity matrix (the report shows a few rows of it)."""
    queries = [caption(modality, m) for m in metas]
    unique, inverse = np.unique(queries, return_inverse=True)
    sim = (encode_text([str(q) for q in unique]) @ items.T)[inverse]
    ranks = target_ranks(sim, np.arange(len(metas)))
    recalls = {k: v / 100.0 for k, v in rank_metrics(ranks).items() if k.startswith("R@")}
    top = sim.argmax(1)
    hits = [attributes_match(metas[q], metas[top[q]], modality) for q in range(len(metas))]
    chance = _agreement_chance(metas, perceived_names(modality))
    n = len(metas)
    return ({**recalls, "attribute_precision@1": float(np.mean(hits)), "chance": chance,
             **{f"chance_R@{k}": min(k / n, 1.0) for k in (1, 5, 10)}, "n": n}, sim)


def emergent(queries: np.ndarray, gallery: np.ndarray, metas: Sequence[Meta], source: str, target: str
             ) -> dict[str, float]:
    """Category precision@1 of ``source`` items retrieving ``target`` items (same clips, unpaired towers)."""
    sim = queries @ gallery.T
    category = np.array([m["category"] for m in metas])
    shared = shared_attributes(source, target)
    keys = [tuple(m.get(a) for a in shared) for m in metas]
    return {"precision@1": float(np.mean(same_key_hits(sim, category.tolist(), category.tolist()))),
            "chance": float(np.mean([np.mean(category == c) for c in category])), "n": len(metas),
            "shared_attributes": list(shared), "shared_attribute_precision@1": float(np.mean(
                same_key_hits(sim, keys, keys))),
            "shared_attribute_chance": _agreement_chance(metas, shared)}


def emergent_hit_attributes(a: str, b: str) -> tuple[str, ...]:
    """What an emergent retrieval between ``a`` and ``b`` is judged on: the category when both perceive it,
    else the attributes they share (IMU with video: direction and speed; with audio: speed)."""
    shared = shared_attributes(a, b)
    return ("category",) if "category" in shared else shared


def compositional(items: np.ndarray, metas: Sequence[Meta], modality: str, encode_text: TextEncoder
                  ) -> dict[str, float]:
    """Top-1 over the distinct full captions of ``metas`` (the compositional split); chance = 1 / #captions."""
    labels = caption_labels(modality, metas)
    index = {label: i for i, label in enumerate(labels)}
    truth = np.array([index[caption(modality, m)] for m in metas])
    predicted = (items @ encode_text(labels).T).argmax(1)
    return {"top1": float(np.mean(predicted == truth)), "chance": 1.0 / len(labels), "n": len(metas),
            "labels": len(labels)}


def perceived_names(modality: str) -> tuple[str, ...]:
    """The attributes a modality's captions name."""
    return tuple(perceived(modality, dict.fromkeys(ATTRIBUTES, "")))


def shared_attributes(a: str, b: str) -> tuple[str, ...]:
    """The attributes both modalities perceive (their captions both name)."""
    return tuple(k for k in perceived_names(a) if k in perceived_names(b))


def evaluate(test: SplitEmbeddings, compositional_split: SplitEmbeddings | None, categories: Sequence[str],
             pairs: Sequence[tuple[str, str]], encode_text: TextEncoder) -> dict[str, Any]:
    """Every table of the demo (``metrics.json`` minus ``seconds``), plus the similarity matrices for figures."""
    out: dict[str, Any] = {"zero_shot": {}, "retrieval": {}, "emergent": {}, "compositional": {}}
    matrices: dict[str, np.ndarray] = {}
    for modality, items in test.embeddings.items():
        out["zero_shot"][modality] = zero_shot(items, test.metas, modality, categories, encode_text)
        out["retrieval"][f"text->{modality}"], matrices[f"text->{modality}"] = text_to_item(
            items, test.metas, modality, encode_text)
    for source, target in pairs:
        if source in test.embeddings and target in test.embeddings:
            for a, b in ((source, target), (target, source)):
                out["emergent"][f"{a}->{b}"] = emergent(test.embeddings[a], test.embeddings[b], test.metas, a, b)
    if compositional_split is not None:
        for modality, items in compositional_split.embeddings.items():
            out["compositional"][modality] = compositional(items, compositional_split.metas, modality, encode_text)
    return {"metrics": out, "matrices": matrices}


def _agreement_chance(metas: Sequence[Meta], attributes: Sequence[str]) -> float:
    """Mean share of items that agree with an item on ``attributes`` (precision@1 of a random pick)."""
    keys = [tuple(m.get(a) for a in attributes) for m in metas]
    counts: dict[tuple, int] = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    return float(np.mean([counts[k] / len(keys) for k in keys]))
