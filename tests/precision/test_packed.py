"""bf16 Linear layers packed once for oneDNN: the same outputs and state as the bf16 Linear they replace."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
import torch.nn.functional as F

from languagebind import precision as prec
from languagebind.model.config import TransformerConfig
from languagebind.model.transformer import Encoder
from languagebind.precision import cast
from languagebind.precision.packed import PackedLinear, pack_bf16_linears, packing_available

pytestmark = pytest.mark.skipif(not packing_available(), reason="torch without oneDNN's packed bf16 Linear")


def bf16_linear(seed: int = 0) -> torch.nn.Linear:
    torch.manual_seed(seed)
    return torch.nn.Linear(48, 80).to(torch.bfloat16)


@pytest.mark.parametrize("shape", [(1, 48), (3, 7, 48), (0, 48)])
def test_packed_linear_computes_exactly_what_the_bf16_linear_does(shape: tuple[int, ...]) -> None:
    linear = bf16_linear()
    packed = PackedLinear(linear)
    x = torch.randn(*shape).to(torch.bfloat16)
    with torch.inference_mode():
        assert torch.equal(packed(x), linear(x))
    assert packed(x).shape == (*shape[:-1], 80)  # grad mode, no grad needed: the packed kernel too


def test_packed_linear_state_load_copy_and_pickle() -> None:
    linear, other = bf16_linear(0), bf16_linear(1)
    packed = PackedLinear(linear)
    state = packed.state_dict()
    assert list(state) == ["weight", "bias"]
    assert torch.equal(state["weight"], linear.weight) and torch.equal(state["bias"], linear.bias)
    x = torch.randn(5, 48).to(torch.bfloat16)
    packed.load_state_dict(other.state_dict())
    with torch.inference_mode():
        assert torch.equal(packed(x), other(x))
        assert torch.equal(copy.deepcopy(packed)(x), other(x))
        assert torch.equal(pickle.loads(pickle.dumps(packed))(x), other(x))
    with pytest.raises(RuntimeError, match="size mismatch"):
        packed.load_state_dict({"weight": torch.zeros(3, 3), "bias": torch.zeros(80)})
    with pytest.raises(RuntimeError, match="Missing key"):
        packed.load_state_dict({"bias": torch.zeros(80)})


def test_packed_linear_falls_back_to_autograd_where_gradients_are_needed() -> None:
    linear = bf16_linear()
    packed = PackedLinear(linear)
    x = torch.randn(4, 48).to(torch.bfloat16).requires_grad_()
    packed(x).float().sum().backward()
    want = x.grad.clone()
    x.grad = None
    linear(x).float().sum().backward()
    assert torch.equal(x.grad, want)


def test_bf16_conversion_packs_only_where_bf16_is_native(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    model = Encoder(TransformerConfig(width=64, layers=2, heads=4, mlp_dim=256)).eval()
    reference = copy.deepcopy(model).to(torch.bfloat16)
    x = torch.randn(2, 9, 64).to(torch.bfloat16)
    monkeypatch.setattr(cast, "cpu_has_native_bf16", lambda: False)
    plain = copy.deepcopy(model)
    prec.convert(torch.nn.Sequential(plain), "bf16")
    assert not any(isinstance(m, PackedLinear) for m in plain.modules())
    monkeypatch.setattr(cast, "cpu_has_native_bf16", lambda: True)
    prec.convert(torch.nn.Sequential(model), "bf16")
    assert sum(isinstance(m, PackedLinear) for m in model.modules()) == 12
    assert set(model.state_dict()) == set(reference.state_dict())
    with torch.inference_mode():
        assert torch.equal(model(x), reference(x))
        assert F.cosine_similarity(model(x).flatten(1).float(), plain(x).flatten(1).float()).min() > 0.9999
    assert pack_bf16_linears(model) == 0  # already packed: nothing left to do
