"""Every metric on small constructed matrices against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from languagebind.evaluation import metrics as M

# 4 captions x 3 items; item 0 has captions 0 and 1, item 1 caption 2, item 2 caption 3.
SIM = np.array([[0.9, 0.1, 0.2],
                [0.3, 0.5, 0.4],
                [0.2, 0.6, 0.7],
                [0.1, 0.0, 0.65]])
CAPTION_ITEM = [0, 0, 1, 2]


def test_target_ranks_count_strictly_higher_scores_and_ties_favour_the_target():
    assert M.target_ranks(SIM, CAPTION_ITEM).tolist() == [1, 3, 2, 1]
    assert M.target_ranks(np.array([[0.5, 0.5, 0.5]]), [2]).tolist() == [1]


def test_rank_metrics_by_hand():
    out = M.rank_metrics(np.array([1, 3, 2, 1, 12]))
    assert out == {"R@1": 40.0, "R@5": 80.0, "R@10": 80.0, "MdR": 2.0, "MnR": 19 / 5}


def test_retrieval_both_directions_with_several_captions_per_item():
    out = M.retrieval_metrics(SIM, CAPTION_ITEM, "v")
    # t2v: caption ranks 1, 3, 2, 1
    assert out["t2v_R@1"] == 50.0 and out["t2v_R@5"] == 100.0 and out["t2v_R@10"] == 100.0
    assert out["t2v_MdR"] == 1.5 and out["t2v_MnR"] == 1.75
    # v2t: item 0 sees groups (max .9/.3 = .9, .2, .1) -> 1; item 1 sees (.5, .6, .0) -> 1;
    # item 2 sees (.4, .7, .65) -> 2
    assert out["v2t_R@1"] == pytest.approx(200 / 3) and out["v2t_R@5"] == 100.0
    assert out["v2t_MdR"] == 1.0 and out["v2t_MnR"] == pytest.approx(4 / 3)


def test_group_max_takes_the_best_caption_of_each_item():
    grouped = M.group_max(SIM.T, CAPTION_ITEM, 3)
    np.testing.assert_allclose(grouped, [[0.9, 0.2, 0.1], [0.5, 0.6, 0.0], [0.4, 0.7, 0.65]])
    assert M.group_max(np.ones((1, 2)), [0, 0], 2)[0, 1] == -math.inf


def test_dual_softmax_by_hand():
    e = math.e
    np.testing.assert_allclose(M.dual_softmax(np.array([[1.0, 0.0], [0.0, 0.0]]), scale=1.0),
                               [[e / (e + 1), 0.0], [0.0, 0.0]])


def test_dual_softmax_demotes_a_hub_candidate():
    # caption 0 belongs to item 1 but item 0 is close to everything (a hub)
    sim = np.array([[0.9, 0.8], [0.85, 0.1]])
    plain = M.retrieval_metrics(sim, [1, 0], "a")
    reranked = M.retrieval_metrics(sim, [1, 0], "a", rerank=True, scale=10.0)
    assert plain["t2a_R@1"] == 50.0 and reranked["t2a_R@1"] == 100.0
    assert plain["a2t_R@1"] == 50.0 and reranked["a2t_R@1"] == 100.0


def test_retrieval_needs_a_caption_for_every_item():
    with pytest.raises(ValueError, match="at least one caption"):
        M.retrieval_metrics(SIM[:, :3], [0, 0, 0, 0])


def test_topk_accuracy_by_hand():
    logits = torch.tensor([[0.1, 0.5, 0.3], [0.9, 0.05, 0.05], [0.2, 0.2, 0.6]])
    out = M.topk_accuracy(logits, [2, 0, 1], ks=(1, 2))
    assert out["top1"] == pytest.approx(100 / 3) and out["top2"] == 100.0


def test_average_precision_by_hand():
    # positives at ranks 1 and 3: (1/1 + 2/3) / 2
    assert M.average_precision(np.array([0.9, 0.8, 0.7, 0.6]), np.array([1, 0, 1, 0])) == pytest.approx(5 / 6)
    # tie between a positive and a negative at 0.8: thresholds .9 (P=0), .8 (P=1/3, R=.5), .1 (P=.5, R=1)
    assert M.average_precision(np.array([0.9, 0.8, 0.8, 0.1]), np.array([0, 1, 0, 1])) == pytest.approx(5 / 12)


def test_mean_average_precision_skips_classes_without_positives():
    scores = np.array([[0.9, 0.1, 0.5], [0.8, 0.7, 0.4], [0.7, 0.2, 0.3], [0.6, 0.9, 0.2]])
    targets = np.array([[1, 0, 0], [0, 0, 0], [1, 0, 0], [0, 1, 0]])
    out = M.mean_average_precision(scores, targets)
    # class 0: positives at ranks 1, 3 -> 5/6; class 1: positive at rank 1 -> 1; class 2 has none
    assert out == {"mAP": pytest.approx(100 * (5 / 6 + 1) / 2), "mAP_classes": 2}
