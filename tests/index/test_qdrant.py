"""The Qdrant backend (qdrant-client's embedded local mode, the client code path a server uses) against faiss."""

from __future__ import annotations

import numpy as np
import pytest

from languagebind.errors import InputError
from languagebind.index import ArraySource, BuildSettings, build_index, open_index
from languagebind.index.qdrant_store import connect, upload
from tests.index.conftest import rows_for, unit


@pytest.fixture(scope="module")
def pair(tmp_path_factory, sources):
    root = tmp_path_factory.mktemp("qdrant")
    build_index(root / "faiss", sources, BuildSettings())
    upload(root / "qdrant", sources, collection="items")
    with open_index(root / "faiss") as faiss_store, \
            open_index(root / "qdrant", backend="qdrant", collection="items") as qdrant_store:
        yield faiss_store, qdrant_store


def ids(hits) -> list[list[str]]:
    return [[h.id for h in row] for row in hits]


def test_same_shape_and_metadata(pair) -> None:
    faiss_store, qdrant_store = pair
    assert qdrant_store.modalities == faiss_store.modalities and qdrant_store.dim == faiss_store.dim
    assert [qdrant_store.count(m) for m in qdrant_store.modalities] == [600, 300]
    assert set(qdrant_store.fields("image")) == set(faiss_store.fields("image"))
    wanted = ["image:3", "audio:299", "audio:300"]
    assert qdrant_store.metadata(wanted) == faiss_store.metadata(wanted)


@pytest.mark.parametrize("filters", [None, {"category": "car"}, {"category": ["dog", "tree"], "rank": [4, 8, 12, 16]},
                                     {"caption": "item 5"}, {"category": "unicorn"}])
def test_same_top_k_as_faiss(pair, vectors, filters) -> None:
    faiss_store, qdrant_store = pair
    queries = np.concatenate([vectors["image"][:4], vectors["audio"][:4]])
    for modality in ("image", "audio"):
        expected = faiss_store.search(modality, queries, 10, filters)
        got = qdrant_store.search(modality, queries, 10, filters)
        assert ids(got) == ids(expected)
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_allclose([h.score for h in g], [h.score for h in e], atol=1e-4)


def test_add_numbers_after_the_existing_rows(tmp_path, vectors) -> None:
    client = connect(":memory:")
    upload(":memory:", [ArraySource("image", vectors["image"][:50], rows_for("image", 50))], collection="c",
           client=client)
    more = unit(np.random.default_rng(5).standard_normal((5, 32)))
    upload(":memory:", [ArraySource("image", more, rows_for("image", 5, 50))], collection="c", add=True, client=client)
    store = open_index(":memory:", backend="qdrant", collection="c", client=client)
    assert store.count("image") == 55
    assert store.search("image", more[2], 1)[0][0].id == "image:52"
    assert store.metadata(["image:52"])[0]["path"] == "image/00052.bin"
    with pytest.raises(InputError, match="new modalities"):
        upload(":memory:", [ArraySource("audio", more, rows_for("audio", 5))], collection="c", add=True, client=client)
    with pytest.raises(InputError, match="not an index id"):
        store.metadata(["image:1; drop"])
    with pytest.raises(InputError, match="no such index"):
        store.search("video", more[0], 3)
