"""The demo's metrics on hand-made embeddings: a perfect tower scores 1, a random one about chance."""

from __future__ import annotations

import numpy as np
import pytest

from languagebind.data.synthetic.captions import caption, perceived
from languagebind.demo.evaluate import SplitEmbeddings, evaluate, perceived_names, shared_attributes
from languagebind.demo.targets import check_targets

CATEGORIES = ["ball", "cube", "star"]


def metas(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    values = {"colour": ["red", "blue"], "size": ["small", "large"], "count": [1, 2, 3],
              "direction": ["left", "right"], "speed": ["slow", "fast"]}
    return [{"category": CATEGORIES[i % 3], **{a: v[int(rng.integers(len(v)))] for a, v in values.items()}}
            for i in range(n)]


class HashedText:
    """A stand-in text tower: each distinct text gets a fixed random unit vector."""

    def __init__(self, dim: int = 64) -> None:
        self.dim, self.vectors = dim, {}

    def __call__(self, texts):
        for t in texts:
            if t not in self.vectors:
                v = np.random.default_rng(abs(hash(t)) % (1 << 32)).standard_normal(self.dim)
                self.vectors[t] = v / np.linalg.norm(v)
        return np.stack([self.vectors[t] for t in texts]).astype(np.float32)


def perfect(modality: str, items: list[dict], text: HashedText) -> np.ndarray:
    """A tower that outputs a mix of its item's full caption and its category label (what training aims at)."""
    full = text([caption(modality, m) for m in items])
    label = text([caption(modality, {"category": m["category"]}) for m in items])
    emb = full + label
    return emb / np.linalg.norm(emb, axis=1, keepdims=True)


def test_perfect_towers_score_one_and_random_ones_near_chance() -> None:
    text = HashedText()
    test, comp = metas(60), metas(30, seed=1)
    good = {m: perfect(m, test, text) for m in ("video", "audio", "depth")}
    good_comp = {m: perfect(m, comp, text) for m in ("video", "audio", "depth")}
    pairs = [("video", "audio"), ("video", "depth")]
    metrics = evaluate(SplitEmbeddings(good, test), SplitEmbeddings(good_comp, comp), CATEGORIES, pairs,
                       text)["metrics"]
    for m in good:
        assert metrics["zero_shot"][m]["top1"] == 1.0
        assert metrics["zero_shot"][m]["chance"] == pytest.approx(1 / 3)
        assert metrics["retrieval"][f"text->{m}"]["attribute_precision@1"] == 1.0
        assert metrics["compositional"][m]["top1"] == 1.0
    assert set(metrics["emergent"]) == {"video->audio", "audio->video", "video->depth", "depth->video"}
    for e in metrics["emergent"].values():
        assert e["chance"] == pytest.approx(1 / 3) and e["n"] == 60

    rng = np.random.default_rng(0)
    noise = {m: rng.standard_normal((60, 64)).astype(np.float32) for m in good}
    noise = {m: v / np.linalg.norm(v, axis=1, keepdims=True) for m, v in noise.items()}
    bad = evaluate(SplitEmbeddings(noise, test), None, CATEGORIES, pairs, text)["metrics"]
    for m in good:
        assert bad["zero_shot"][m]["top1"] < 0.7
        r = bad["retrieval"][f"text->{m}"]
        assert r["R@1"] <= r["R@5"] <= r["R@10"]
        assert r["chance_R@10"] == pytest.approx(10 / 60)
    assert bad["compositional"] == {}
    assert check_targets(bad)  # misses the targets


def test_emergent_precision_counts_same_category_neighbours() -> None:
    items = metas(30)
    concept = HashedText()([m["category"] for m in items])  # two towers that agree on the category only
    rng = np.random.default_rng(1)
    a = concept + 0.1 * rng.standard_normal(concept.shape)
    b = concept + 0.1 * rng.standard_normal(concept.shape)
    metrics = evaluate(SplitEmbeddings({"video": a, "audio": b}, items), None, CATEGORIES, [("video", "audio")],
                       HashedText())["metrics"]
    assert metrics["emergent"]["video->audio"]["precision@1"] == 1.0
    assert metrics["emergent"]["audio->video"]["shared_attributes"] == ["category", "count", "speed"]
    shuffled = evaluate(SplitEmbeddings({"video": a, "audio": b[rng.permutation(30)]}, items), None, CATEGORIES,
                        [("video", "audio")], HashedText())["metrics"]
    assert shuffled["emergent"]["video->audio"]["precision@1"] < 0.7


def test_chance_of_attribute_precision_is_the_share_of_matching_items() -> None:
    text = HashedText()
    items = [{"category": "ball", "count": 1, "speed": "slow"}, {"category": "ball", "count": 1, "speed": "slow"},
             {"category": "cube", "count": 2, "speed": "fast"}, {"category": "cube", "count": 1, "speed": "fast"}]
    emb = perfect("audio", items, text)
    metrics = evaluate(SplitEmbeddings({"audio": emb}, items), None, ["ball", "cube"], [], text)["metrics"]
    # each item agrees with itself; the two identical balls with each other: (2 + 2 + 1 + 1) / 4 / 4
    assert metrics["retrieval"]["text->audio"]["chance"] == pytest.approx(6 / 16)


def test_perceived_and_shared_attributes() -> None:
    assert perceived_names("audio") == ("category", "count", "speed")
    assert shared_attributes("video", "audio") == ("category", "count", "speed")
    assert shared_attributes("depth", "thermal") == ("category", "size", "count")
    assert set(perceived(  # captions of a modality name exactly what it perceives
        "depth", {"category": "ball", "colour": "red", "size": "small", "count": 2})) == {"category", "size", "count"}


def motion_perfect(items: list[dict], text: HashedText) -> np.ndarray:
    """An IMU tower that outputs its item's caption (direction and speed only)."""
    return text([caption("imu", m) for m in items])


def test_imu_zero_shot_is_over_motions_and_its_emergent_pairs_are_judged_on_shared_attributes() -> None:
    text = HashedText(dim=512)  # random vectors this wide are nearly orthogonal (|cos| ~ 0.04)
    test = metas(64)
    video = perfect("video", test, text)
    # a video tower and an IMU tower that agree on the motion only: their embeddings share a motion vector
    motion = text([f"{m['direction']} {m['speed']}" for m in test])
    emb = {"video": video + motion, "imu": motion_perfect(test, text) + motion,
           "point": perfect("point", test, text)}
    emb = {m: e / np.linalg.norm(e, axis=1, keepdims=True) for m, e in emb.items()}
    metrics = evaluate(SplitEmbeddings(emb, test), None, CATEGORIES, [("imu", "video"), ("point", "video")],
                       text)["metrics"]
    assert metrics["zero_shot"]["imu"]["chance"] == pytest.approx(1 / 8)  # 4 directions x 2 speeds
    assert metrics["zero_shot"]["imu"]["top1"] == 1.0 and metrics["zero_shot"]["point"]["top1"] == 1.0
    assert metrics["retrieval"]["text->imu"]["attribute_precision@1"] == 1.0
    pair = metrics["emergent"]["imu->video"]
    assert pair["shared_attributes"] == ["direction", "speed"] and pair["shared_attribute_precision@1"] == 1.0
    assert pair["precision@1"] < 0.8  # the category is not what an IMU pair is about


def test_targets_of_the_new_modalities() -> None:
    def entry(top1: float) -> dict:
        return {"top1": top1, "chance": 0.1, "n": 600}

    def retrieval(p: float) -> dict:
        return {"attribute_precision@1": p}

    def pair(category: float, shared: list[str], attributes: float) -> dict:
        return {"precision@1": category, "chance": 0.1, "n": 600, "shared_attributes": shared,
                "shared_attribute_precision@1": attributes, "shared_attribute_chance": 0.1}

    metrics = {"zero_shot": {"point": entry(0.91), "imu": entry(0.2), "depth": entry(0.96)},
               "retrieval": {"text->point": retrieval(0.6), "text->imu": retrieval(0.55),
                             "text->depth": retrieval(0.9)},
               "emergent": {"imu->video": pair(0.1, ["direction", "speed"], 0.85),
                            "point->depth": pair(0.82, ["category", "count"], 0.5),
                            "depth->thermal": pair(0.92, ["category", "size", "count"], 0.5)},
               "compositional": {"imu": {"top1": 0.1, "chance": 0.125}, "point": {"top1": 0.5, "chance": 0.05}}}
    assert check_targets(metrics) == []  # IMU: no zero-shot or compositional target; new pairs at 0.8
    metrics["zero_shot"]["point"] = entry(0.89)
    metrics["retrieval"]["text->imu"] = retrieval(0.45)
    metrics["emergent"]["imu->video"] = pair(0.9, ["direction", "speed"], 0.7)
    metrics["emergent"]["depth->thermal"] = pair(0.85, ["category", "size", "count"], 0.5)
    failed = check_targets(metrics)
    assert len(failed) == 4 and "zero-shot point 0.890 < 0.9" in failed
    assert "emergent imu->video direction+speed 0.700 < 0.8" in failed
    assert "emergent depth->thermal category 0.850 < 0.9" in failed
