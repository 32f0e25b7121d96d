"""The metrics of the combined and emergent tasks on small matrices worked out by hand (ties, several positives)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from languagebind.evaluation import metrics as M
from languagebind.evaluation.combined import classification_scores, retrieval_scores, row_embeddings
from languagebind.evaluation.emergent import emergent_scores

# 3 items, rgb (rows) x thermal (columns); item i's own pair is column i.
PAIRED = np.array([[0.9, 0.2, 0.9],    # own 0.9 tied with item 2: rank 1 (ties favour the correct item)
                   [0.8, 0.3, 0.1],    # own 0.3 below 0.8: rank 2
                   [0.5, 0.6, 0.4]])   # own 0.4 below 0.5 and 0.6: rank 3


def test_positive_ranks_with_one_positive_equal_target_ranks():
    own = np.eye(3, dtype=bool)
    assert M.positive_ranks(PAIRED, own).tolist() == [1, 2, 3]
    assert M.positive_ranks(PAIRED, own).tolist() == M.target_ranks(PAIRED, [0, 1, 2]).tolist()


def test_positive_ranks_with_several_positives_and_ties():
    scores = np.array([[0.1, 0.7, 0.5, 0.7, 0.2],
                       [0.4, 0.4, 0.4, 0.4, 0.4],
                       [0.9, 0.8, 0.3, 0.2, 0.6]])
    positives = np.array([[1, 0, 1, 0, 0],    # best positive 0.5; wrong 0.7 and 0.7 above -> 3
                          [0, 0, 0, 0, 1],    # all tied -> 1
                          [0, 0, 1, 1, 1]], dtype=bool)  # best positive 0.6; wrong 0.9, 0.8 above -> 3
    assert M.positive_ranks(scores, positives).tolist() == [3, 1, 3]
    # a positive tied with a wrong candidate at the top counts as a hit; another positive lower does not matter
    assert M.positive_ranks(np.array([[0.5, 0.5, 0.1]]), np.array([[False, True, True]])).tolist() == [1]
    with pytest.raises(ValueError, match="at least one positive"):
        M.positive_ranks(scores, np.zeros_like(positives))
    with pytest.raises(ValueError, match="differ in shape"):
        M.positive_ranks(scores, positives[:, :2])


def test_same_key_hits_is_category_precision_at_1():
    # queries 0-3 against gallery 0-3; categories a, a, b, b
    sim = np.array([[0.1, 0.9, 0.3, 0.2],    # top is item 1 (a): hit
                    [0.5, 0.2, 0.5, 0.1],    # top tie item 0 (a) / item 2 (b): hit (tie rule)
                    [0.2, 0.8, 0.1, 0.3],    # top item 1 (a) for a b query: miss
                    [0.0, 0.0, 0.1, 0.0]])   # top item 2 (b): hit
    cats = ["a", "a", "b", "b"]
    assert M.same_key_hits(sim, cats, cats).tolist() == [True, True, False, True]
    assert M.same_key_hits(sim, cats, cats, k=2).tolist() == [True, True, True, True]
    # tuple and list keys compare as wholes
    keys = [("a", 1), ["a", 1], ("b", 1), ("b", 2)]
    assert M.same_key_hits(sim, keys, keys).tolist() == [True, True, False, False]


def test_paired_retrieval_metrics_both_directions_by_hand():
    out = M.paired_retrieval_metrics(PAIRED, "rgb", "thermal")
    # rgb -> thermal ranks 1, 2, 3
    assert out["rgb2thermal_R@1"] == pytest.approx(100 / 3) and out["rgb2thermal_R@5"] == 100.0
    assert out["rgb2thermal_MdR"] == 2.0 and out["rgb2thermal_MnR"] == 2.0
    # thermal -> rgb (columns): col 0 own 0.9 top -> 1; col 1 own 0.3 below 0.6, 0.2 -> 2; col 2 own 0.4 below 0.9 -> 2
    assert out["thermal2rgb_R@1"] == pytest.approx(100 / 3) and out["thermal2rgb_R@10"] == 100.0
    assert out["thermal2rgb_MdR"] == 2.0 and out["thermal2rgb_MnR"] == pytest.approx(5 / 3)
    with pytest.raises(ValueError, match="square"):
        M.paired_retrieval_metrics(PAIRED[:2], "rgb", "thermal")


def test_emergent_scores_name_the_directions():
    # unit embeddings whose products are simple: rgb = identity rows, thermal = rows chosen by hand
    rgb = torch.eye(3, dtype=torch.float64)
    thermal = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    out = emergent_scores({"rgb": rgb, "thermal": thermal}, "rgb", "thermal")
    assert list(out) == ["rgb->thermal", "thermal->rgb"]
    # sim = rgb @ thermal.T: item 0 matches itself (1), items 1 and 2 are swapped; each row has one 1 and
    # two 0s, so a swapped item ranks 2 (one strictly higher) -> R@1 = 1/3, MnR = (1 + 2 + 2) / 3
    assert out["rgb->thermal"]["R@1"] == pytest.approx(100 / 3) and out["rgb->thermal"]["MnR"] == pytest.approx(5 / 3)
    assert out["thermal->rgb"] == out["rgb->thermal"]


def test_combined_classification_by_hand():
    # 2 items, 2 classes in a 2-D space; rgb says class 0 for both, depth says class 1 for item 1
    rgb = torch.tensor([[1.0, 0.0], [0.8, 0.6]])
    depth = torch.tensor([[0.6, 0.8], [0.0, 1.0]])
    classes = torch.eye(2)
    rows = row_embeddings({"rgb": rgb, "depth": depth})
    out = classification_scores(rows, {"rgb": classes, "depth": classes}, [0, 1], (1,))
    # rgb: item 0 -> 0 (right), item 1 -> 0 (wrong): 50; depth: item 0 -> 1 (wrong), item 1 -> 1 (right): 50
    # combined: item 0 = (1.6, 0.8) -> 0 right; item 1 = (0.8, 1.6) -> 1 right: 100
    assert out == {"rgb": {"top1": 50.0, "n": 2}, "depth": {"top1": 50.0, "n": 2}, "rgb+depth": {"top1": 100.0, "n": 2}}
    # weighting rgb 10:1 makes item 1 = (8, 6 + 1) -> class 0 (wrong); item 0 stays right
    weights = {"rgb": 10.0, "depth": 1.0}
    heavy = classification_scores(row_embeddings({"rgb": rgb, "depth": depth}, weights=weights),
                                  {"rgb": classes, "depth": classes}, [0, 1], (1,), weights)
    assert heavy["rgb+depth"] == {"top1": 50.0, "n": 2} and heavy["rgb"] == out["rgb"]


def test_combined_retrieval_by_hand():
    video = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    audio = torch.tensor([[0.0, 1.0], [1.0, 0.0]])  # audio alone is swapped
    text = torch.tensor([[0.8, 0.6], [0.6, 0.8], [0.0, 1.0]])  # captions of items 0, 1, 1
    out = retrieval_scores(row_embeddings({"video": video, "audio": audio}), text, [0, 1, 1])
    assert out["video"]["t2x_R@1"] == 100.0 and out["audio"]["t2x_R@1"] == 0.0
    # combined items are both (0.707, 0.707): every caption ties -> rank 1 (tie rule)
    assert out["video+audio"]["t2x_R@1"] == 100.0 and out["video+audio"]["x2t_R@1"] == 100.0


def test_items_lacking_a_modality_by_hand():
    video = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    audio = torch.tensor([[0.0, 1.0], [9.0, 9.0], [0.8, 0.6]])  # item 1 has no sound: its row is ignored
    available = {"video": np.array([True, True, True]), "audio": np.array([True, False, True])}
    rows = row_embeddings({"video": video, "audio": audio}, available)
    assert rows["audio"][0].tolist() == [0, 2] and torch.equal(rows["audio"][1], audio[[0, 2]])
    index, both = rows["video+audio"]
    s = 1 / np.sqrt(2)
    assert index.tolist() == [0, 1, 2]
    # item 1: its video alone
    assert torch.allclose(both, torch.tensor([[s, s], [0.0, 1.0], [s, s]], dtype=torch.float32))
    # captions: item 0 "(1, 0)", item 1 "(0, 1)", item 2 "(0.6, 0.8)"
    text = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    out = retrieval_scores(rows, text, [0, 1, 2])
    assert out["video"]["t2x_R@1"] == 100.0 and out["video"]["n"] == 3
    # audio row: items 0 and 2 only, with their captions: (1, 0) scores item 0 at 0 below item 2 at 0.8: rank 2;
    # (0.6, 0.8) scores item 2 at 0.96 above item 0 at 0.8: rank 1
    assert out["audio"]["n"] == 2 and out["audio"]["t2x_R@1"] == 50.0
    # combined: caption 1 ranks item 1 = (0, 1) first; captions 0 and 2 tie items 0 and 2 = (s, s): rank 1
    assert out["video+audio"]["n"] == 3 and out["video+audio"]["t2x_R@1"] == 100.0
    classes = torch.eye(2)
    scores = classification_scores(rows, {"video": classes, "audio": classes}, [0, 1, 1], (1,))
    # video: item 0 -> 0 right, item 1 -> 1 right, item 2 -> 1 right; audio (items 0, 2): 0 -> 1 wrong, 2 -> 0 wrong
    assert scores["video"] == {"top1": 100.0, "n": 3} and scores["audio"] == {"top1": 0.0, "n": 2}
    with pytest.raises(ValueError, match="none of the combined"):
        row_embeddings({"video": video, "audio": audio}, {**available, "video": np.array([True, False, True])})
