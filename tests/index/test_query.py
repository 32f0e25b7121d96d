"""The query API on the faiss backend: exact top-k, metadata by id, filters, and clear errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest

from languagebind.errors import InputError
from languagebind.index import MAX_K, BuildSettings, Hit, build_index, open_index
from tests.index.conftest import unit


@pytest.fixture(scope="module")
def store(tmp_path_factory, sources):
    path = tmp_path_factory.mktemp("index") / "idx"
    build_index(path, sources, BuildSettings(segment_rows=256))  # several segments per modality
    with open_index(path) as opened:
        yield opened


def exact(vectors: np.ndarray, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[int]:
    scores = vectors @ query
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    order = np.lexsort((np.arange(len(scores)), -scores))
    return [int(i) for i in order[:k] if np.isfinite(scores[i])]


def rows(hits: list[Hit]) -> list[int]:
    return [int(h.id.split(":")[1]) for h in hits]


def test_shape_and_exact_top_k(store, vectors) -> None:
    assert store.modalities == ["image", "audio"] and store.dim == 32
    assert (store.count("image"), store.count("audio")) == (600, 300)
    queries = vectors["audio"][:3]
    hits = store.search("image", queries, k=7)
    assert len(hits) == 3 and all(len(h) == 7 for h in hits)
    for query, found in zip(queries, hits, strict=True):
        assert rows(found) == exact(vectors["image"], query, 7)
        assert all(h.modality == "image" and h.id.startswith("image:") for h in found)
        np.testing.assert_allclose([h.score for h in found], np.sort(vectors["image"] @ query)[::-1][:7], atol=1e-5)
    assert store.search("audio", vectors["audio"][5], k=1)[0][0] == Hit("audio:5", pytest.approx(1.0, abs=1e-5),
                                                                          "audio")


def test_metadata_by_id(store) -> None:
    got = store.metadata(["image:300", "audio:0", "audio:300", "image:599"])
    assert got[0] == {"id": "image:300", "modality": "image", "path": "image/00300.bin", "source": 0,
                      "category": "dog", "rank": 300, "caption": "item 300", "tags": ["dog", 0]}
    assert got[1]["path"] == "audio/00000.bin" and got[1]["source"] == 1
    assert got[2] is None and got[3]["rank"] == 599
    assert store.metadata([]) == []
    assert set(store.fields("image")) >= {"id", "modality", "path", "source", "category", "rank", "caption"}


def test_filters_return_k_exact_matches(store, vectors) -> None:
    query = vectors["image"][10]
    categories = np.array([("dog", "cat", "car", "tree")[i % 4] for i in range(600)])
    found = store.search("image", query, k=10, filters={"category": "car"})[0]
    assert rows(found) == exact(vectors["image"], query, 10, categories == "car")
    found = store.search("image", query, k=10, filters={"category": ["car", "tree"], "caption": "item 7"})[0]
    assert rows(found) == [7]
    found = store.search("image", query, k=500, filters={"category": ["dog", "cat"]})[0]
    assert len(found) == 300 and set(rows(found)) == {i for i in range(600) if i % 4 < 2}
    assert store.search("image", query, k=5, filters={"rank": [3, 4.0, "5", True]})[0] and \
        set(rows(store.search("image", query, k=5, filters={"rank": [3, 4.0, "5"]})[0])) == {3, 4}
    assert store.search("image", query, k=5, filters={"category": "unicorn"}) == [[]]


def test_k_larger_than_the_index_returns_everything(store, vectors) -> None:
    assert len(store.search("audio", vectors["audio"][0], k=MAX_K)[0]) == 300


@pytest.mark.parametrize("call, message", [
    (lambda s, q: s.search("thermal", q, 5), "no such index"),
    (lambda s, q: s.search("../image", q, 5), "no such index"),
    (lambda s, q: s.search("image", q, 0), "between 1 and"),
    (lambda s, q: s.search("image", q, 10**9), "between 1 and"),
    (lambda s, q: s.search("image", q, 2.5), "integer"),
    (lambda s, q: s.search("image", q[:, :16], 5), "expected shape"),
    (lambda s, q: s.search("image", q * 3, 5), "L2-normalised"),
    (lambda s, q: s.search("image", np.full_like(q, np.nan), 5), "NaN"),
    (lambda s, q: s.search("image", q.tolist(), 5), "numpy array"),
    (lambda s, q: s.search("image", q, 5, filters={"secret": 1}), "unknown"),
    (lambda s, q: s.search("image", q, 5, filters={"category": [{"$ne": 1}]}), "values must be"),
    (lambda s, q: s.search("image", q, 5, filters={"category": []}), "values"),
    (lambda s, q: s.metadata(["../../etc/passwd"]), "not an index id"),
    (lambda s, q: s.metadata(["image:-1"]), "not an index id"),
    (lambda s, q: s.metadata(["image:01"]), "not an index id"),
    (lambda s, q: s.metadata(["image:" + "9" * 40]), "not an index id"),
    (lambda s, q: s.metadata([7]), "not an index id"),
    (lambda s, q: s.metadata("image:1"), "list of id strings"),
])
def test_bad_inputs_are_clear_errors(store, call, message) -> None:
    query = unit(np.ones((1, 32)))
    with pytest.raises(InputError, match=message):
        call(store, query)


def test_open_errors(tmp_path) -> None:
    with pytest.raises(InputError, match="no such index directory"):
        open_index(tmp_path / "missing")
    with pytest.raises(InputError, match="not an index"):
        open_index(tmp_path)
    with pytest.raises(InputError, match="backend"):
        open_index(tmp_path, backend="milvus")
