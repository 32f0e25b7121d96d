"""Pure evaluation metrics on similarity matrices (no model, no files).

Conventions used everywhere in this package:

* Similarities are cosine similarities of L2-normalised embeddings (``queries @ candidates.T``).
* A rank is 1-based: ``1 + (number of candidates scoring strictly higher than the correct one)``. Ties are
  resolved in favour of the correct candidate, exactly like CLIP4Clip's ``compute_metrics``. With several
  correct candidates (``positive_ranks``) the rank is that of the best-scoring one, counting only wrong
  candidates strictly above it: a tie between a correct and a wrong candidate again counts as a hit.
* Recalls, accuracies and mAP are percentages (0-100); MdR / MnR are ranks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

RECALL_KS = (1, 5, 10)


def _as_array(matrix: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(matrix, torch.Tensor):
        matrix = matrix.detach().cpu().double().numpy()
    array = np.asarray(matrix, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"expected a 2-D similarity matrix, got shape {array.shape}")
    return array


def target_ranks(scores: torch.Tensor | np.ndarray, targets: Sequence[int]) -> np.ndarray:
    """1-based rank of ``targets[i]`` in row ``i`` of ``scores`` (ties count in the target's favour)."""
    array = _as_array(scores)
    targets = np.asarray(targets, dtype=np.int64)
    if targets.shape != (array.shape[0],):
        raise ValueError(f"need one target per row: {array.shape[0]} rows, {targets.shape} targets")
    correct = array[np.arange(len(targets)), targets]
    return (array > correct[:, None]).sum(axis=1) + 1


def rank_metrics(ranks: np.ndarray, ks: Sequence[int] = RECALL_KS) -> dict[str, float]:
    """``R@k`` (percent of ranks <= k), ``MdR`` (median rank) and ``MnR`` (mean rank)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    if ranks.size == 0:
        raise ValueError("no queries to rank")
    out = {f"R@{k}": float(100.0 * np.mean(ranks <= k)) for k in ks}
    out["MdR"] = float(np.median(ranks))
    out["MnR"] = float(np.mean(ranks))
    return out


def positive_ranks(scores: torch.Tensor | np.ndarray, positives: np.ndarray) -> np.ndarray:
    """1-based rank of the best-scoring positive of each row: ``1 + (number of wrong candidates scoring
    strictly higher than it)``. ``positives`` is a (Q, C) boolean matrix with at least one True per row; with
    one positive per row this equals ``target_ranks``."""
    array = _as_array(scores)
    positives = np.asarray(positives, dtype=bool)
    if positives.shape != array.shape:
        raise ValueError(f"scores {array.shape} and positives {positives.shape} differ in shape")
    if not positives.any(axis=1).all():
        raise ValueError("every row needs at least one positive")
    best = np.where(positives, array, -np.inf).max(axis=1)
    return (np.where(positives, -np.inf, array) > best[:, None]).sum(axis=1) + 1


def same_key_hits(scores: torch.Tensor | np.ndarray, query_keys: Sequence, gallery_keys: Sequence,
                  k: int = 1) -> np.ndarray:
    """Per query: is a gallery item with the query's key (its category, say) among the top ``k``? (Q,) bool.

    The mean is precision@1 for ``k = 1`` (every same-key item is a correct answer; ties as above).
    """
    ids: dict[object, int] = {}
    query = np.array([ids.setdefault(_hashable(key), len(ids)) for key in query_keys], dtype=np.int64)
    gallery = np.array([ids.setdefault(_hashable(key), len(ids)) for key in gallery_keys], dtype=np.int64)
    return positive_ranks(scores, query[:, None] == gallery[None, :]) <= k


def _hashable(key: object) -> object:
    """Lists become tuples, so keys such as ``[colour, count]`` compare as wholes."""
    return tuple(_hashable(k) for k in key) if isinstance(key, (list, tuple)) else key


def paired_retrieval_metrics(sim: torch.Tensor | np.ndarray, source: str, target: str) -> dict[str, float]:
    """Item-to-item retrieval between two modalities of the same N items, both directions.

    ``sim`` is (N, N): row ``i`` is item ``i``'s ``source`` embedding against every item's ``target`` embedding;
    the only correct answer of a query is its own item (the diagonal). Keys ``{source}2{target}_R@1`` ...
    ``_MnR`` from ``sim`` and ``{target}2{source}_...`` from ``sim.T`` (ties in the correct item's favour).
    """
    array = _as_array(sim)
    if array.shape[0] != array.shape[1] or array.shape[0] == 0:
        raise ValueError(f"expected a square, non-empty (items x items) matrix, got {array.shape}")
    own = np.eye(array.shape[0], dtype=bool)
    out = {}
    for name, matrix in ((f"{source}2{target}", array), (f"{target}2{source}", array.T)):
        out.update({f"{name}_{key}": value for key, value in rank_metrics(positive_ranks(matrix, own)).items()})
    return out


def group_max(scores: torch.Tensor | np.ndarray, groups: Sequence[int], num_groups: int) -> np.ndarray:
    """Max over the columns of each group: (Q, C) scores, column ``c`` in group ``groups[c]`` -> (Q, G)."""
    array = _as_array(scores)
    groups = np.asarray(groups, dtype=np.int64)
    if groups.shape != (array.shape[1],):
        raise ValueError(f"need one group per column: {array.shape[1]} columns, {groups.shape} groups")
    if groups.size and (groups.min() < 0 or groups.max() >= num_groups):
        raise ValueError(f"group ids must lie in [0, {num_groups})")
    out = np.full((array.shape[0], num_groups), -np.inf)
    if not groups.size:
        return out
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    starts = np.r_[0, np.nonzero(np.diff(sorted_groups))[0] + 1]
    out[:, sorted_groups[starts]] = np.maximum.reduceat(array[:, order], starts, axis=1)
    return out


def dual_softmax(scores: torch.Tensor | np.ndarray, scale: float = 100.0) -> np.ndarray:
    """Dual-softmax re-ranking of a (queries, candidates) matrix: ``S * softmax(scale * S, over queries)``.

    Each candidate's column becomes a prior over the queries, which demotes "hub" candidates that are close
    to every query. It uses all test queries at once (transductive), so it is reported separately.
    """
    array = _as_array(scores)
    logits = scale * array
    logits = logits - logits.max(axis=0, keepdims=True)
    prior = np.exp(logits)
    prior /= prior.sum(axis=0, keepdims=True)
    return array * prior


def retrieval_metrics(sim: torch.Tensor | np.ndarray, caption_item: Sequence[int], prefix: str = "v",
                      rerank: bool = False, scale: float = 100.0) -> dict[str, float]:
    """Text<->X retrieval with any number of captions per item.

    ``sim`` is (num_captions, num_items) cosine similarity; ``caption_item[c]`` is the item of caption ``c``.

    * ``t2{prefix}``: every caption is a query; its item is ranked among all items.
    * ``{prefix}2t``: every item is a query; a candidate item's captions score as their best (max) caption,
      and the item's own captions are ranked among those per-item scores (CLIP4Clip's multi-sentence rule).

    With ``rerank`` each direction's query x candidate matrix is dual-softmax re-ranked first.
    """
    array = _as_array(sim)
    caption_item = np.asarray(caption_item, dtype=np.int64)
    num_items = array.shape[1]
    if caption_item.shape != (array.shape[0],):
        raise ValueError(f"need one item per caption: {array.shape[0]} captions, {caption_item.shape} items")
    if num_items == 0 or np.any(np.bincount(caption_item, minlength=num_items)[:num_items] == 0):
        raise ValueError("every item needs at least one caption")
    text_to_x = dual_softmax(array, scale) if rerank else array
    x_to_text = group_max(array.T, caption_item, num_items)
    if rerank:
        x_to_text = dual_softmax(x_to_text, scale)
    out = {}
    for name, ranks in ((f"t2{prefix}", target_ranks(text_to_x, caption_item)),
                        (f"{prefix}2t", target_ranks(x_to_text, np.arange(num_items)))):
        out.update({f"{name}_{key}": value for key, value in rank_metrics(ranks).items()})
    return out


def topk_accuracy(logits: torch.Tensor | np.ndarray, labels: Sequence[int], ks: Sequence[int] = (1, 5)
                  ) -> dict[str, float]:
    """``top{k}``: percent of rows whose label is among the k highest scores (ties in the label's favour)."""
    ranks = target_ranks(logits, labels)
    return {f"top{k}": float(100.0 * np.mean(ranks <= k)) for k in ks}


def average_precision(scores: np.ndarray, positives: np.ndarray) -> float:
    """Average precision of one class, as ``sklearn.metrics.average_precision_score`` (tied scores grouped).

    ``AP = sum_n (R_n - R_{n-1}) P_n`` over the distinct score thresholds, highest first.
    """
    scores = np.asarray(scores, dtype=np.float64)
    positives = np.asarray(positives, dtype=bool)
    total = positives.sum()
    if total == 0:
        raise ValueError("average precision needs at least one positive")
    order = np.argsort(-scores, kind="stable")
    scores, positives = scores[order], positives[order]
    # the last index of each run of equal scores is one threshold
    last = np.r_[np.nonzero(np.diff(scores))[0], scores.size - 1]
    true_pos = np.cumsum(positives)[last]
    precision = true_pos / (last + 1)
    recall = true_pos / total
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def mean_average_precision(scores: torch.Tensor | np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """Multi-label ``mAP`` (percent): mean of per-class AP over classes with at least one positive.

    ``scores`` is (N, K); ``targets`` is an (N, K) 0/1 matrix. Also returns ``mAP_classes``, the number of
    classes averaged.
    """
    array = _as_array(scores)
    targets = np.asarray(targets, dtype=bool)
    if targets.shape != array.shape:
        raise ValueError(f"scores {array.shape} and targets {targets.shape} differ in shape")
    present = np.nonzero(targets.any(axis=0))[0]
    if present.size == 0:
        raise ValueError("no class has a positive item")
    aps = [average_precision(array[:, k], targets[:, k]) for k in present]
    return {"mAP": float(100.0 * np.mean(aps)), "mAP_classes": int(present.size)}
