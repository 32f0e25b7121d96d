"""Emergent item-to-item retrieval (paper Table 7): one modality of an item retrieves the same item in another
modality, between towers that were never trained on each other's data (each saw only text).

Pure functions on embeddings. The single correct answer of a query is its own item; R@1/5/10, MdR and MnR
both ways, with the tie rule of ``evaluation.metrics`` (a tie counts in the correct item's favour). The
demo's EMERGENT table is scored by the same ranking (``metrics.positive_ranks``), with every item of the
query's category as a correct answer.
"""

from __future__ import annotations

import torch

from languagebind.evaluation import metrics as M

DIRECTION_METRICS = ("R@1", "R@5", "R@10", "MdR", "MnR")


def emergent_scores(items: dict[str, torch.Tensor], source: str, target: str) -> dict[str, dict[str, float]]:
    """``{"source->target": {"R@1", ...}, "target->source": {...}}`` from (N, P) unit rows of both roles."""
    sim = (items[source].double() @ items[target].double().T).numpy()
    flat = M.paired_retrieval_metrics(sim, source, target)
    out = {}
    for a, b in ((source, target), (target, source)):
        out[f"{a}->{b}"] = {m: flat[f"{a}2{b}_{m}"] for m in DIRECTION_METRICS}
    return out
