"""The service's own API on a tiny collection: every way to query, results, metadata, previews, health, metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.serve.conftest import COLOURS, b64, png_bytes, wav_bytes


def ids_of(hits: list[dict]) -> list[str]:
    return [h["id"] for h in hits]


def test_text_query_ranks_every_index(client) -> None:
    answer = client.post("/search", json={"text": "a red square", "k": 3})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert set(results) == {"image", "audio", "depth", "thermal", "video"}
    for modality, hits in results.items():
        assert len(hits) == min(3, client.service.store.count(modality))
        assert all(h["modality"] == modality for h in hits)
        scores = [h["score"] for h in hits]
        assert scores == sorted(scores, reverse=True)
        assert all(h["metadata"]["id"] == h["id"] and "caption" in h["metadata"] for h in hits)
        assert all("path" not in h["metadata"] and "source" not in h["metadata"] for h in hits)  # server-side


def test_uploaded_image_finds_itself_first(client, collection) -> None:
    for i, rgb in enumerate(COLOURS.values()):
        answer = client.post("/search", files={"file": ("q.png", png_bytes(rgb), "image/png")},
                             data={"target_modalities": "image", "k": "3"})
        assert answer.status_code == 200, answer.text
        top = answer.json()["results"]["image"][0]
        assert top["id"] == f"image:{i}" and top["score"] == pytest.approx(1.0, abs=1e-4)


def test_base64_audio_and_named_tower(client) -> None:
    answer = client.post("/search", json={"data": b64(wav_bytes(880.0)), "modality": "audio",
                                          "target_modalities": ["audio"], "k": 4})
    assert answer.status_code == 200, answer.text
    hits = answer.json()["results"]["audio"]
    assert hits[0]["id"] == "audio:2" and hits[0]["score"] == pytest.approx(1.0, abs=1e-4)
    assert answer.json()["query"] == [{"source": "data", "modality": "audio", "weight": 1.0}]


def test_embedding_query_equals_the_embedded_input(client) -> None:
    embedded = client.post("/embed", json={"text": "a blue square"}).json()
    assert embedded["dim"] == 32 and len(embedded["embeddings"][0]["embedding"]) == 32
    vector = np.array(embedded["embeddings"][0]["embedding"])
    by_text = client.post("/search", json={"text": "a blue square", "k": 5}).json()["results"]
    by_vector = client.post("/search", json={"embedding": (3 * vector).tolist(), "k": 5}).json()["results"]
    for m in by_text:
        assert ids_of(by_text[m]) == ids_of(by_vector[m])
        assert [h["score"] for h in by_text[m]] == pytest.approx([h["score"] for h in by_vector[m]], abs=1e-5)


def test_weighted_combination_is_normalised_sum(client) -> None:
    parts = [{"text": "a tone"}, {"data": b64(wav_bytes(440.0)), "modality": "audio"},
             {"data": b64(png_bytes(COLOURS["green"])), "modality": "image"}]
    weights = [0.5, 1.0, -0.25]
    embedded = client.post("/embed", json={"inputs": parts}).json()["embeddings"]
    assert [e["modality"] for e in embedded] == ["text", "audio", "image"]
    total = sum(w * np.array(e["embedding"]) / np.linalg.norm(e["embedding"])
                for w, e in zip(weights, embedded, strict=True))
    expected = total / np.linalg.norm(total)
    query = [dict(p, weight=w) for p, w in zip(parts, weights, strict=True)]
    combined = client.post("/search", json={"query": query, "target_modalities": ["image"], "k": 8}).json()
    direct = client.post("/search", json={"embedding": expected.tolist(), "target_modalities": ["image"],
                                          "k": 8}).json()
    assert ids_of(combined["results"]["image"]) == ids_of(direct["results"]["image"])
    assert [p["weight"] for p in combined["query"]] == weights


def test_multipart_with_request_field_and_two_files(client) -> None:
    request = {"query": [{"file": "a", "weight": 1.0}, {"file": "b", "modality": "audio", "weight": 1.0}],
               "target_modalities": ["image", "audio"], "k": 2}
    answer = client.post("/search", data={"request": json.dumps(request)},
                         files={"a": ("a.png", png_bytes(COLOURS["red"]), "image/png"),
                                "b": ("b.wav", wav_bytes(220.0), "audio/wav")})
    assert answer.status_code == 200, answer.text
    assert [q["modality"] for q in answer.json()["query"]] == ["image", "audio"]


def test_search_by_indexed_item(client) -> None:
    answer = client.post("/search", json={"id": "image:3", "target_modalities": ["image"], "k": 2}).json()
    assert answer["results"]["image"][0]["id"] == "image:3"
    assert answer["results"]["image"][0]["score"] == pytest.approx(1.0, abs=1e-4)


def test_filters_and_k(client) -> None:
    answer = client.post("/search", json={"text": "x", "target_modalities": ["image"], "k": 100,
                                          "filters": {"caption": ["a red square", "a blue square"]}})
    assert answer.status_code == 200, answer.text
    assert sorted(ids_of(answer.json()["results"]["image"])) == ["image:0", "image:2"]
    assert len(client.post("/search", json={"text": "x", "k": 1}).json()["results"]["image"]) == 1


def test_metadata_indices_health_metrics(client) -> None:
    metas = client.post("/metadata", json={"ids": ["image:1", "audio:0", "image:999"]}).json()
    assert [m["id"] for m in metas] == ["image:1", "audio:0", "image:999"]
    assert metas[0]["metadata"]["caption"] == "a green square" and metas[2]["metadata"] is None
    info = client.get("/indices").json()
    assert info["dim"] == 32 and info["towers"] == ["text", "image", "audio", "depth", "thermal", "video"]
    assert {m: v["count"] for m, v in info["indices"].items()} == {"image": 8, "audio": 4, "depth": 3, "thermal": 2,
                                                                   "video": 2}
    assert info["indices"]["depth"]["kind"] == "heatmap" and info["guesses"][".npy"] == "depth"
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["live"] and health.json()["ready"]
    text = client.get("/metrics").text
    for name in ("languagebind_requests_total", "languagebind_request_seconds_bucket", "languagebind_batch_size",
                 "languagebind_queue_depth", "languagebind_encode_seconds"):
        assert name in text, name
    assert 'route="/search"' in text


@pytest.mark.parametrize(("item", "media_type"), [("image:0", "image/jpeg"), ("audio:1", "audio/wav"),
                                                  ("depth:2", "image/png"), ("thermal:0", "image/png"),
                                                  ("video:1", "image/jpeg")])
def test_previews_by_id(client, item: str, media_type: str) -> None:
    answer = client.get("/preview", params={"id": item})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == media_type and len(answer.content) > 100
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_page_is_self_contained(client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "<script src" not in html and "<link" not in html and "http://" not in html and "https://" not in html
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_qdrant_backend_answers_like_faiss(client, tiny_towers, collection, tmp_path) -> None:
    from fastapi.testclient import TestClient

    from languagebind.serve import ServeConfig, Service, create_app
    from tests.serve.store import build_qdrant, open_store

    store = open_store(build_qdrant(tmp_path / "qdrant", collection.sources), backend="qdrant")
    config = ServeConfig(rate_limit=0.0, media_roots=(str(collection.root),))
    with TestClient(create_app(Service(tiny_towers, store, config))) as qdrant:
        assert qdrant.get("/indices").json()["backend"] == "qdrant"
        for body in ({"text": "a red square", "k": 3},
                     {"data": b64(png_bytes(COLOURS["blue"])), "k": 4, "target_modalities": ["image", "depth"]},
                     {"text": "a square", "k": 8, "target_modalities": ["image"],
                      "filters": {"caption": ["a red square", "a green square", "a blue square"]}}):
            ours, theirs = client.post("/search", json=body).json(), qdrant.post("/search", json=body).json()
            assert ours["results"].keys() == theirs["results"].keys()
            for m in ours["results"]:
                assert ids_of(ours["results"][m]) == ids_of(theirs["results"][m]), m
                assert [h["score"] for h in ours["results"][m]] == pytest.approx(
                    [h["score"] for h in theirs["results"][m]], abs=1e-5)
        assert qdrant.get("/preview", params={"id": "image:2"}).status_code == 200
    store.close()
