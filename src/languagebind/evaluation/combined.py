"""Combined-modality zero-shot scores (paper Table 6): each modality alone, then the combined query.

Pure functions on embeddings (no files, no model). A combined item embedding is
``utils.arithmetic.combine_embeddings`` of its unit embeddings (weights 1 each by default); for
classification the classes' text embeddings are combined by the same rule from each modality's own
classifier (its own prompt templates), so a modality alone scores exactly as in its single-modality
benchmark, and with equal template sets the combined classifier is that same classifier.

Items may lack a modality (``available[role][i]`` False, with ``partial`` runs): a modality's row is then
computed on the items that have it, and the combined row on every item, each combined from the modalities it
has. Every row reports its ``n``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from languagebind.evaluation import metrics as M
from languagebind.utils.arithmetic import combine_embeddings

# Metrics of a text <-> combined-item retrieval, per variant ("x" is the item, whatever it is made of).
RETRIEVAL_METRICS = tuple(f"{d}_{m}" for d in ("t2x", "x2t") for m in ("R@1", "R@5", "R@10", "MdR", "MnR"))

Rows = dict[str, tuple[np.ndarray, torch.Tensor]]  # row -> (item indices, their embeddings)


def variants(roles: Sequence[str]) -> list[str]:
    """Each role alone, then all of them joined by ``+`` (the table's rows)."""
    return [*roles, "+".join(roles)]


def _weights(roles: Sequence[str], weights: Mapping[str, float] | None) -> dict[str, float] | None:
    return None if weights is None else {r: weights[r] for r in roles}


def row_embeddings(items: Mapping[str, torch.Tensor], available: Mapping[str, np.ndarray] | None = None,
                   weights: Mapping[str, float] | None = None) -> Rows:
    """Each role over the items that have it, then the combination over every item from the roles it has.

    ``items[role]`` is (N, P) (rows of unavailable items are ignored); ``available[role]`` (N,) bool, all True
    by default.
    """
    roles = list(items)
    total = len(next(iter(items.values())))
    have = {r: np.ones(total, bool) if available is None else np.asarray(available[r], bool) for r in roles}
    out: Rows = {}
    for role in roles:
        index = np.nonzero(have[role])[0]
        out[role] = (index, items[role][torch.from_numpy(index)])
    combined = torch.empty(total, next(iter(items.values())).shape[1])
    patterns = np.stack([have[r] for r in roles], axis=1)
    for pattern in np.unique(patterns, axis=0):
        rows = np.nonzero((patterns == pattern).all(axis=1))[0]
        present = [r for r, on in zip(roles, pattern, strict=True) if on]
        if not present:
            raise ValueError("an item has none of the combined modalities")
        picked = torch.from_numpy(rows)
        combined[picked] = combine_embeddings({r: items[r][picked] for r in present}, _weights(present, weights))
    out["+".join(roles)] = (np.arange(total), combined)
    return out


def classification_scores(rows: Rows, classifiers: Mapping[str, torch.Tensor], labels: Sequence[int],
                          ks: Sequence[int], weights: Mapping[str, float] | None = None
                          ) -> dict[str, dict[str, float]]:
    """``{row: {"top1", "top5", "n"}}`` from ``row_embeddings``; ``classifiers[role]`` (K, P) unit class
    embeddings from that role's templates, combined like the items for the combined row."""
    roles = list(classifiers)
    classes = dict(classifiers)
    classes["+".join(roles)] = combine_embeddings(classifiers, _weights(roles, weights))
    labels = np.asarray(labels)
    out = {}
    for row, (index, emb) in rows.items():
        out[row] = {**M.topk_accuracy(emb.double() @ classes[row].double().T, labels[index], ks), "n": len(index)}
    return out


def retrieval_scores(rows: Rows, text: torch.Tensor, caption_item: Sequence[int]) -> dict[str, dict[str, float]]:
    """``{row: {"t2x_R@1", ..., "x2t_MnR", "n"}}``: each row's items against their captions (C, P)."""
    caption_item = np.asarray(caption_item)
    out = {}
    for row, (index, emb) in rows.items():
        position = np.full(int(max(caption_item.max(initial=-1), index.max(initial=-1))) + 1, -1)
        position[index] = np.arange(len(index))
        captions = np.nonzero(position[caption_item] >= 0)[0]
        sim = (text[torch.from_numpy(captions)].double() @ emb.double().T).numpy()
        out[row] = {**M.retrieval_metrics(sim, position[caption_item[captions]], "x"), "n": len(index)}
    return out
