"""The runner with a fake encoder: metrics wiring on every layout, cache reuse, determinism, bad data."""

from __future__ import annotations

import json

import pytest

from languagebind.errors import InputError
from languagebind.evaluation import evaluate, get_benchmark
from languagebind.evaluation.runner import spread_indices
from languagebind.evaluation.tables import markdown_table
from tests.evaluation.fakes import FakeEncoder
from tests.evaluation.layouts import BUILDERS
from tests.evaluation.reference import naive_expected


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_each_benchmark_end_to_end_with_a_fake_encoder(tmp_path, name):
    expected = BUILDERS[name](tmp_path / "data")
    result = evaluate(get_benchmark(name), tmp_path / "data", FakeEncoder(), cache_dir=tmp_path / "cache")
    payload = result.to_json()
    assert payload["benchmark"] == name and payload["n"] == len(expected["items"])
    reference = naive_expected(name, tmp_path / "data", expected, FakeEncoder())
    for key, value in reference.items():
        assert payload["metrics"][key] == pytest.approx(value), key
    assert json.loads(json.dumps(payload)) == payload  # JSON-serialisable as is
    assert f"({name}," in markdown_table(payload)


def test_second_run_reads_every_embedding_from_the_cache(tmp_path):
    BUILDERS["msvd"](tmp_path / "data")
    first_encoder, second_encoder = FakeEncoder(), FakeEncoder()
    first = evaluate(get_benchmark("msvd"), tmp_path / "data", first_encoder, cache_dir=tmp_path / "cache")
    second = evaluate(get_benchmark("msvd"), tmp_path / "data", second_encoder, cache_dir=tmp_path / "cache")
    assert first.encoded == {"items": 3, "texts": 6} and first_encoder.encoded == {"video": 3, "text": 6}
    assert second.encoded == {"items": 0, "texts": 0} and second_encoder.calls == []
    assert second.metrics == first.metrics


def test_classification_prompts_are_cached_too_and_a_changed_file_is_re_encoded(tmp_path):
    expected = BUILDERS["esc50"](tmp_path / "data")
    evaluate(get_benchmark("esc50"), tmp_path / "data", FakeEncoder(), cache_dir=tmp_path / "cache")
    (tmp_path / "data" / expected["items"][0]).write_bytes(b"RIFF changed")
    again = FakeEncoder()
    result = evaluate(get_benchmark("esc50"), tmp_path / "data", again, cache_dir=tmp_path / "cache")
    assert result.encoded == {"items": 1, "texts": 0} and again.encoded == {"audio": 1}


def test_a_different_checkpoint_does_not_reuse_the_cache(tmp_path):
    BUILDERS["llvip"](tmp_path / "data")
    evaluate(get_benchmark("llvip"), tmp_path / "data", FakeEncoder(), cache_dir=tmp_path / "cache")
    other = FakeEncoder(fingerprint="other")
    evaluate(get_benchmark("llvip"), tmp_path / "data", other, cache_dir=tmp_path / "cache")
    assert other.encoded == {"thermal": 4, "text": 160}


def test_two_uncached_runs_give_identical_results(tmp_path):
    BUILDERS["audiocaps"](tmp_path / "data")
    runs = [evaluate(get_benchmark("audiocaps"), tmp_path / "data", FakeEncoder(), cache_dir=None,
                     dual_softmax=True).to_json() for _ in range(2)]
    for run in runs:
        run.pop("seconds")
    assert runs[0] == runs[1]
    assert set(runs[0]["metrics_dual_softmax"]) == {f"{d}_{m}" for d in ("t2a", "a2t")
                                                   for m in ("R@1", "R@5", "R@10", "MdR", "MnR")}


def test_missing_file_stops_the_run_unless_allowed(tmp_path):
    expected = BUILDERS["msrvtt"](tmp_path / "data")
    (tmp_path / "data" / expected["items"][1]).unlink()
    with pytest.raises(InputError, match=r"1 of 3 files are missing or unreadable.*--allow-missing"):
        evaluate(get_benchmark("msrvtt"), tmp_path / "data", FakeEncoder())
    result = evaluate(get_benchmark("msrvtt"), tmp_path / "data", FakeEncoder(), allow_missing=True)
    payload = result.to_json()
    assert payload["n"] == 2 and payload["n_total"] == 3 and payload["n_missing"] == 1
    assert payload["missing"][0]["reason"] == "file not found" and "video7010" in payload["missing"][0]["path"]
    assert "1 missing or unreadable" in markdown_table(payload)


def test_unreadable_file_is_found_inside_its_batch(tmp_path):
    expected = BUILDERS["nyu_d"](tmp_path / "data")
    (tmp_path / "data" / expected["items"][2]).write_bytes(b"BAD png")
    with pytest.raises(InputError, match="cannot decode"):
        evaluate(get_benchmark("nyu_d"), tmp_path / "data", FakeEncoder(), batch_size=4)
    encoder = FakeEncoder()
    result = evaluate(get_benchmark("nyu_d"), tmp_path / "data", encoder, batch_size=4, allow_missing=True,
                      cache_dir=tmp_path / "cache")
    assert result.n == 4 and [r for _, r in result.missing] == ["cannot decode (fake)"]
    again = FakeEncoder()  # the good ones were cached; the bad one is tried again and fails again
    evaluate(get_benchmark("nyu_d"), tmp_path / "data", again, batch_size=4, allow_missing=True,
             cache_dir=tmp_path / "cache")
    assert again.encoded.get("depth", 0) == 0


def test_limit_spreads_items_over_the_benchmark(tmp_path):
    assert spread_indices(10, 3) == [0, 3, 6] and spread_indices(3, None) == [0, 1, 2] == spread_indices(3, 9)
    BUILDERS["flir_v1"](tmp_path / "data")
    result = evaluate(get_benchmark("flir_v1"), tmp_path / "data", FakeEncoder(), limit=2)
    assert result.n == 2 and result.to_json()["limit"] == 2


def test_dual_softmax_is_only_for_retrieval(tmp_path):
    BUILDERS["llvip"](tmp_path / "data")
    with pytest.raises(InputError, match="retrieval"):
        evaluate(get_benchmark("llvip"), tmp_path / "data", FakeEncoder(), dual_softmax=True)


def test_markdown_puts_the_paper_numbers_beside_ours(tmp_path):
    BUILDERS["esc50"](tmp_path / "data")
    payload = evaluate(get_benchmark("esc50"), tmp_path / "data", FakeEncoder()).to_json()
    table = markdown_table(payload)
    assert "| top1 |" in table and "| 91.8 | 94.0 |" in table
    assert payload["paper"] == {"lora": {"top1": 91.8}, "tuned": {"top1": 94.0}}
    assert set(payload["by_group"]) == {"fold1", "fold2", "fold5"}


def test_a_wrong_data_directory_says_which_layout_is_expected(tmp_path):
    with pytest.raises(InputError, match=r"expected layout for clotho: clotho_captions_evaluation\.csv"):
        evaluate(get_benchmark("clotho"), tmp_path, FakeEncoder())
