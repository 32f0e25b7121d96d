"""Embedding arithmetic against sums worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from languagebind.errors import InputError
from languagebind.utils.arithmetic import combine_embeddings, combine_weights


def test_equal_weights_give_the_normalised_sum_of_unit_embeddings():
    video = torch.tensor([[3.0, 0.0, 0.0], [0.0, 2.0, 0.0]])  # not unit: each is normalised first
    audio = torch.tensor([[0.0, 4.0, 0.0], [0.0, 0.0, 1.0]])
    out = combine_embeddings({"video": video, "audio": audio})
    s = 1 / math.sqrt(2)
    assert torch.allclose(out, torch.tensor([[s, s, 0.0], [0.0, s, s]]))


def test_weighted_sum_by_hand():
    a = torch.tensor([[1.0, 0.0]])
    b = torch.tensor([[0.0, 1.0]])
    out = combine_embeddings({"a": a, "b": b}, {"a": 3.0, "b": 4.0})
    assert torch.allclose(out, torch.tensor([[0.6, 0.8]]))
    minus = combine_embeddings({"a": torch.tensor([[1.0, 1.0]]), "b": b}, {"a": math.sqrt(2), "b": -1.0})
    assert torch.allclose(minus, torch.tensor([[1.0, 0.0]]), atol=1e-6)  # (1, 1) - (0, 1)


def test_one_row_is_broadcast_over_a_batch():
    batch = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    one = torch.tensor([0.0, 2.0])
    out = combine_embeddings({"image": batch, "text": one}, {"image": 1.0, "text": 1.0})
    s = 1 / math.sqrt(2)
    assert torch.allclose(out, torch.tensor([[s, s], [0.0, 1.0]]))


def test_bad_inputs_name_the_reason():
    a = torch.tensor([[1.0, 0.0]])
    with pytest.raises(InputError, match="no embeddings"):
        combine_embeddings({})
    with pytest.raises(InputError, match="share their width"):
        combine_embeddings({"a": a, "b": torch.ones(1, 3)})
    with pytest.raises(InputError, match="share their width and row count"):
        combine_embeddings({"a": torch.ones(2, 2), "b": torch.ones(3, 2)})
    with pytest.raises(InputError, match="zero length"):
        combine_embeddings({"a": a, "b": torch.zeros(1, 2)})
    with pytest.raises(InputError, match="NaN"):
        combine_embeddings({"a": a, "b": torch.tensor([[float("nan"), 1.0]])})
    with pytest.raises(InputError, match="cancel out"):
        combine_embeddings({"a": a, "b": -a})
    with pytest.raises(InputError, match="missing: b"):
        combine_weights(["a", "b"], {"a": 1.0})
    with pytest.raises(InputError, match="unknown: c"):
        combine_weights(["a"], {"a": 1.0, "c": 2.0})
    with pytest.raises(InputError, match="finite"):
        combine_weights(["a"], {"a": float("inf")})
    with pytest.raises(InputError, match="all weights are zero"):
        combine_weights(["a", "b"], {"a": 0, "b": 0.0})
