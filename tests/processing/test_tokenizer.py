"""Tokenizer: exact ids of the official (HF slow CLIPTokenizer + ftfy 6.1.1) tokenizer."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from languagebind.errors import CheckpointError, InputError
from languagebind.processing import CLIPTokenizer
from languagebind.processing.tokenizer import EOS

CASES = json.loads((Path(__file__).parent / "data" / "tokenizer_cases.json").read_text(encoding="utf-8"))["cases"]
SENTENCES = ["Training a parakeet to climb up a ladder.", "A lion climbing a tree to catch a monkey."]


@pytest.fixture(scope="module")
def bundled() -> CLIPTokenizer:
    return CLIPTokenizer.from_dir(None)


def test_fixture_sentences_exact(bundled: CLIPTokenizer, fixture_dir: Path) -> None:
    inputs = np.load(fixture_dir / "inputs.npz")
    out = bundled(SENTENCES)
    assert out["input_ids"].dtype == torch.long and out["attention_mask"].dtype == torch.long
    assert torch.equal(out["input_ids"], torch.from_numpy(inputs["input_ids"]))
    assert torch.equal(out["attention_mask"], torch.from_numpy(inputs["attention_mask"]))


def test_photo_of_a_cat(bundled: CLIPTokenizer) -> None:
    assert bundled.encode("a photo of a cat") == [320, 1125, 539, 320, 2368]


@pytest.mark.parametrize("case", CASES, ids=lambda c: repr(c["text"][:24]))
def test_edge_cases_match_official(bundled: CLIPTokenizer, case: dict) -> None:
    out = bundled(case["text"])
    n = len(case["ids"])
    assert out["input_ids"][0, :n].tolist() == case["ids"]
    assert (out["input_ids"][0, n:] == 49407).all()
    assert out["attention_mask"][0].tolist() == [1] * n + [0] * (77 - n)


def test_long_text_truncated_to_77_with_eos(bundled: CLIPTokenizer) -> None:
    out = bundled("word " * 200)
    ids = out["input_ids"][0]
    assert ids.shape == (77,) and ids[0] == 49406 and ids[-1] == 49407
    assert out["attention_mask"][0].sum() == 77
    short = bundled("word " * 200, context_length=10)["input_ids"]
    assert short.shape == (1, 10) and short[0, -1] == 49407


def test_checkpoint_vocab_equals_bundled(bundled: CLIPTokenizer, fixture_dir: Path) -> None:
    from_dir = CLIPTokenizer.from_dir(fixture_dir / "checkpoint")
    assert from_dir.encoder == bundled.encoder and from_dir.merges == bundled.merges
    texts = [c["text"] for c in CASES]
    assert torch.equal(from_dir(texts)["input_ids"], bundled(texts)["input_ids"])


def test_save_pretrained_writes_the_official_files(bundled: CLIPTokenizer, fixture_dir: Path, tmp_path: Path) -> None:
    bundled.save_pretrained(tmp_path)
    for name in ("vocab.json", "merges.txt"):
        assert (tmp_path / name).read_bytes() == (fixture_dir / "checkpoint" / name).read_bytes()
    reloaded = CLIPTokenizer.from_dir(tmp_path)
    assert torch.equal(reloaded(SENTENCES)["input_ids"], bundled(SENTENCES)["input_ids"])
    assert json.loads((tmp_path / "tokenizer_config.json").read_text())["pad_token"] == EOS


def test_incomplete_tokenizer_dir_is_an_error(tmp_path: Path, fixture_dir: Path) -> None:
    (tmp_path / "vocab.json").write_bytes((fixture_dir / "checkpoint" / "vocab.json").read_bytes())
    with pytest.raises(CheckpointError, match=r"merges\.txt"):
        CLIPTokenizer.from_dir(tmp_path)


def test_dir_without_tokenizer_files_uses_bundled(tmp_path: Path, bundled: CLIPTokenizer) -> None:
    assert CLIPTokenizer.from_dir(tmp_path).encoder == bundled.encoder


@pytest.mark.parametrize("bad", [3, None, b"bytes", ["ok", 5]])
def test_non_string_texts_raise(bundled: CLIPTokenizer, bad: object) -> None:
    with pytest.raises(InputError):
        bundled(bad)


def test_pickles_for_worker_processes(bundled: CLIPTokenizer) -> None:
    clone = pickle.loads(pickle.dumps(bundled))
    assert torch.equal(clone(SENTENCES)["input_ids"], bundled(SENTENCES)["input_ids"])


def test_batch_rows_equal_single(bundled: CLIPTokenizer) -> None:
    batch = bundled(SENTENCES)["input_ids"]
    assert torch.equal(batch[1], bundled(SENTENCES[1])["input_ids"][0])
