"""The two int8 kernels: oneDNN's int8 matmul (``Int8Linear``) and torch.ao's dynamic Linear (fbgemm)."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
import torch.nn.functional as F

import languagebind.precision as prec
from languagebind.errors import InputError
from languagebind.model.config import TransformerConfig
from languagebind.model.transformer import Encoder
from languagebind.precision import device
from languagebind.precision import int8 as int8_module
from languagebind.precision.int8 import (
    FusedProjection,
    Int8Linear,
    ProjectionSlice,
    dynamic_int8,
    quantise_activation,
    stack_linears,
)

needs_qlinear = pytest.mark.skipif(not int8_module.qlinear_available(), reason="torch without oneDNN's int8 matmul")


@pytest.fixture(params=[pytest.param("qlinear", marks=needs_qlinear), "x86"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each int8 kernel in turn, forced with LANGUAGEBIND_INT8_ENGINE (skipped where this torch lacks it)."""
    if request.param not in ("qlinear", *torch.backends.quantized.supported_engines):
        pytest.skip(f"no {request.param} engine in this torch build")
    monkeypatch.setenv("LANGUAGEBIND_INT8_ENGINE", request.param)
    return request.param


def encoder(seed: int = 0) -> Encoder:
    torch.manual_seed(seed)
    model = Encoder(TransformerConfig(width=64, layers=2, heads=4, mlp_dim=256)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.1)
    return model


def tokens(seed: int = 1) -> torch.Tensor:
    return torch.randn(3, 17, 64, generator=torch.Generator().manual_seed(seed))


def test_each_kernel_agrees_with_fp32(engine: str) -> None:
    reference, x = encoder(), tokens()
    quantised = copy.deepcopy(reference)
    assert prec.quantize_int8(quantised) == 12
    assert all(prec.is_int8_linear(m) for name, m in quantised.named_modules() if name.endswith(("proj", "fc1", "fc2")))
    assert (type(quantised.layers[0].mlp.fc1) is Int8Linear) == (engine == "qlinear")
    with torch.inference_mode():
        cosine = F.cosine_similarity(quantised(x).flatten(1), reference(x).flatten(1))
    assert cosine.min() >= 0.999


@needs_qlinear
def test_int8_linear_matches_the_float_layer_and_reports_float_state() -> None:
    linear = torch.nn.Linear(48, 80)
    layer = Int8Linear(linear)
    x = torch.randn(5, 7, 48)
    with torch.inference_mode():
        got, want = layer(x), linear(x)
    assert got.shape == (5, 7, 80) and got.dtype == torch.float32
    assert F.cosine_similarity(got.flatten(), want.flatten(), dim=0) >= 0.9995
    state = layer.state_dict()
    assert set(state) == {"weight", "bias"}
    assert torch.allclose(state["weight"], linear.weight, atol=linear.weight.abs().max().item() / 127)
    assert torch.equal(state["bias"], linear.bias.detach())
    with torch.inference_mode():
        assert layer(torch.empty(0, 3, 48)).shape == (0, 3, 80)  # no rows: no range to quantise


@needs_qlinear
def test_gelu_post_op_changes_nothing() -> None:
    linear = torch.nn.Linear(64, 256)
    x = torch.randn(20, 64)
    plain, fused = Int8Linear(linear), Int8Linear(linear)
    fused.post_op = "gelu"
    with torch.inference_mode():
        assert torch.allclose(fused(x), F.gelu(plain(x)), atol=1e-6)


def test_fused_projection_computes_what_three_layers_do(engine: str) -> None:
    torch.manual_seed(0)
    layers = [torch.nn.Linear(64, 48) for _ in range(3)]
    fused = FusedProjection(dynamic_int8(stack_linears(layers), attention_input=False), [48, 48, 48])
    slices = [ProjectionSlice(fused, i, 64) for i in range(3)]
    x = torch.randn(2, 9, 64)
    with torch.inference_mode():
        for layer, part in zip(layers, slices, strict=True):
            # per-channel weights and a per-tensor activation: the same codes and sums as the layer on its own
            assert torch.allclose(part(x), dynamic_int8(layer, attention_input=False)(x), atol=1e-5, rtol=0)
        assert fused.entry is None  # dropped once all three had it
        assert torch.allclose(slices[1](x + 1), dynamic_int8(layers[1], attention_input=False)(x + 1), atol=1e-5)
    for layer, part in zip(layers, slices, strict=True):
        state = part.state_dict()
        assert set(state) == {"weight", "bias"} and torch.equal(state["bias"], layer.bias.detach())
        assert torch.allclose(state["weight"], layer.weight, atol=layer.weight.abs().max().item() / 127)


@needs_qlinear
def test_quantise_activation_is_exact_on_the_u8_grid() -> None:
    x = torch.linspace(-2.0, 6.0, 256).reshape(16, 16)
    codes, scale, zero_point = quantise_activation(x)
    assert codes.dtype == torch.uint8 and codes.shape == x.shape
    assert int(codes.min()) == 0 and int(codes.max()) == 255
    assert torch.allclose((codes.float() - zero_point) * scale, x, atol=scale / 2 + 1e-6)
    positive = quantise_activation(torch.rand(4, 4) + 1)  # the range always includes 0
    assert positive[2] == 0


def test_fused_tower_copies_and_pickles(engine: str) -> None:
    model, x = encoder(), tokens()
    float_state = model.state_dict()
    prec.quantize_int8(model)
    attention, mlp = model.layers[0].self_attn, model.layers[0].mlp
    assert all(isinstance(getattr(attention, n), ProjectionSlice) for n in ("q_proj", "k_proj", "v_proj"))
    assert attention.q_proj.fused is attention.k_proj.fused is attention.v_proj.fused
    assert model.layers[1].self_attn.q_proj.fused is not attention.q_proj.fused
    if engine == "qlinear":
        assert mlp.fc1.post_op == "gelu" and mlp.act(x) is x
    state = model.state_dict()
    assert set(state) == set(float_state)  # the float model's names, dequantised weights
    for name, value in float_state.items():
        assert torch.allclose(state[name], value, atol=value.abs().max().item() / 100), name
    with torch.inference_mode():
        out = model(x)
        twin = copy.deepcopy(model)
        assert twin.layers[0].self_attn.q_proj.fused is twin.layers[0].self_attn.v_proj.fused
        assert twin.layers[0].self_attn.q_proj.fused is not attention.q_proj.fused
        assert torch.equal(twin(x), out)
        assert torch.equal(model(x), out)  # deterministic
    assert set(pickle.loads(pickle.dumps(model.state_dict()))) == set(model.state_dict())


def test_engine_choice_follows_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANGUAGEBIND_INT8_ENGINE", raising=False)
    for name in ("_is_vnni_supported", "_is_amx_tile_supported"):
        monkeypatch.setattr(torch.cpu, name, lambda: False)
    assert prec.int8_engine() != "qlinear"  # no VNNI / AMX: torch.ao's fbgemm
    if int8_module.qlinear_available():
        monkeypatch.setattr(torch.cpu, "_is_vnni_supported", lambda: True)
        assert prec.int8_engine() == "qlinear"
    monkeypatch.setenv("LANGUAGEBIND_INT8_ENGINE", "no-such-engine")
    with pytest.raises(InputError, match="no-such-engine"):
        prec.int8_engine()


@needs_qlinear
@pytest.mark.parametrize("native_bf16", [True, False])
def test_attention_runs_in_bf16_only_where_native(native_bf16: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGUAGEBIND_INT8_ENGINE", "qlinear")
    monkeypatch.setattr(device, "cpu_has_native_bf16", lambda: native_bf16)
    model, x = encoder(), tokens()
    reference = copy.deepcopy(model)
    prec.quantize_int8(model)
    attention = model.layers[0].self_attn
    expected = torch.bfloat16 if native_bf16 else torch.float32
    assert attention.q_proj.fused.layer.out_dtype == expected  # q, k and v: one fused matmul
    with torch.inference_mode():
        assert {getattr(attention, n)(x).dtype for n in ("q_proj", "k_proj", "v_proj")} == {expected}
    assert attention.out_proj.out_dtype == model.layers[0].mlp.fc2.out_dtype == torch.float32
    with torch.inference_mode():
        out = model(x)
        assert out.dtype == torch.float32
        assert F.cosine_similarity(out.flatten(1), reference(x).flatten(1)).min() >= 0.999
