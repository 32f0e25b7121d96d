"""Combined-modality zero-shot scores (paper Table 6): each modality alone, then the combined query.

Pure functions on embeddings (no files, no model). A combined item embedding is
``utils.arithmetic.combine_embeddings`` of its unit embeddings (weights 1 each by default); for
classification the classes' text embeddings are combined by the same rule from each modality's own
classifier (its own prompt templates), so a modality alone scores exactly as in its single-modality
benchmark, and with equal template sets the combined classifier is that same classifier.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from languagebind.evaluation import metrics as M
from languagebind.utils.arithmetic import combine_embeddings

# Metrics of a text <-> combined-item retrieval, per variant ("x" is the item, whatever it is made of).
RETRIEVAL_METRICS = tuple(f"{d}_{m}" for d in ("t2x", "x2t") for m in ("R@1", "R@5", "R@10", "MdR", "MnR"))


def variants(roles: Sequence[str]) -> list[str]:
    """Each role alone, then all of them joined by ``+`` (the table's rows)."""
    return [*roles, "+".join(roles)]


def _weights(roles: Sequence[str], weights: Mapping[str, float] | None) -> dict[str, float] | None:
    return None if weights is None else {r: weights[r] for r in roles}


def classification_scores(items: Mapping[str, torch.Tensor], classifiers: Mapping[str, torch.Tensor],
                          labels: Sequence[int], ks: Sequence[int], weights: Mapping[str, float] | None = None
                          ) -> dict[str, dict[str, float]]:
    """``{variant: {"top1": ..., "top5": ...}}``: ``items[role]`` (N, P) unit rows, ``classifiers[role]``
    (K, P) unit class embeddings from that role's templates."""
    roles = list(items)
    out = {role: M.topk_accuracy(items[role].double() @ classifiers[role].double().T, labels, ks) for role in roles}
    query = combine_embeddings(items, _weights(roles, weights))
    classes = combine_embeddings(classifiers, _weights(roles, weights))
    out["+".join(roles)] = M.topk_accuracy(query.double() @ classes.double().T, labels, ks)
    return out


def retrieval_scores(items: Mapping[str, torch.Tensor], text: torch.Tensor, caption_item: Sequence[int],
                     weights: Mapping[str, float] | None = None) -> dict[str, dict[str, float]]:
    """``{variant: {"t2x_R@1", ..., "x2t_MnR"}}``: captions (C, P) against the items of each variant."""
    roles = list(items)
    candidates = {role: items[role] for role in roles}
    candidates["+".join(roles)] = combine_embeddings(items, _weights(roles, weights))
    return {variant: M.retrieval_metrics((text.double() @ emb.double().T).numpy(), caption_item, "x")
            for variant, emb in candidates.items()}
