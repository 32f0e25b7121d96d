"""Dynamic int8 quantisation of the transformer Linear layers (CPU).

Weights are int8 with per-channel scales, activations are quantised per call (one scale per tensor, u8). Two
kernels compute them:

* ``qlinear`` (``Int8Linear``): oneDNN's int8 matmul through ``torch.ops.onednn`` (the kernel torch's own
  compiler uses), where the CPU has AMX or AVX-512 VNNI. On this repo's AMX Xeon it ran the ViT-L shapes at
  1.2-1.8 TOP/s with the activations' quantisation included, against fbgemm's 0.5-0.7; held to AVX-512 VNNI, 0.75-0.86
  against 0.49-0.73. Where the CPU also computes bf16 natively, q/k/v come out in bfloat16, so attention (which no
  engine here quantises) runs in bf16 as well: on 593-token audio that is 6 ms a layer against 20 in fp32.
  q, k and v of an attention run as one matmul over their stacked weights (``FusedProjection``, both kernels).
  Nothing process-wide is involved: the packed weights carry their kernel.
* ``ao``: torch.ao's dynamic ``Linear`` (fbgemm, ``x86``), everywhere else. torch's quantised engine
  (``torch.backends.quantized.engine``, process-wide) is set only while layers are quantised
  (``quantised_engine``) and then restored: the weights are packed for the engine in effect at that moment and a
  packed layer keeps its own kernels, so it runs the same whatever the engine is afterwards (tests/precision check
  it). A deep copy or a ``load_state_dict`` of such a layer repacks it for the engine in effect at that time.

``LANGUAGEBIND_INT8_ENGINE`` overrides the choice: ``qlinear``, or a torch.ao engine (``x86``, ``onednn`` ...).
"""

from __future__ import annotations

import copy
import functools
import os
import warnings
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from languagebind.errors import InputError
from languagebind.model.lora import LoRALinear, merge_lora
from languagebind.precision.memory import release_free_memory

QLINEAR = "qlinear"


def cpu_has_int8_dot() -> bool:
    """True where the CPU has AVX-512 VNNI or AMX (int8 dot products oneDNN's int8 matmul is built on)."""
    return any(getattr(torch.cpu, name, lambda: False)() for name in ("_is_vnni_supported", "_is_amx_tile_supported"))


def qlinear_available() -> bool:
    return hasattr(torch.ops.onednn, "qlinear_pointwise") and hasattr(torch.ops.onednn, "qlinear_prepack") and \
        torch.backends.mkldnn.is_available()


def int8_engine() -> str:
    """How int8 layers compute: ``qlinear`` where the CPU has VNNI / AMX, else the torch.ao engine they are packed
    for: fbgemm (``x86``) where torch has it, else torch's default. ``LANGUAGEBIND_INT8_ENGINE`` overrides.

    torch.ao's oneDNN engine (``onednn``) was up to 15 % faster on single ViT-L layers here, but no faster on whole
    towers, and on a full-size video batch (16k rows per matmul) it held 7 GB where fbgemm held 2.7 GB.
    """
    supported = torch.backends.quantized.supported_engines
    forced = os.environ.get("LANGUAGEBIND_INT8_ENGINE")
    if forced == QLINEAR:
        if not qlinear_available():
            raise InputError(forced, "this torch build has no oneDNN int8 matmul (torch.ops.onednn.qlinear_pointwise)")
        return forced
    if forced and forced not in supported:
        raise InputError(forced, f"not a quantised engine of this torch build: {[QLINEAR, *supported]}")
    if forced:
        return forced
    if cpu_has_int8_dot() and qlinear_available():
        return QLINEAR
    return "x86" if "x86" in supported else torch.backends.quantized.engine


@contextmanager
def quantised_engine(engine: str | None = None) -> Iterator[str]:
    """Set torch's quantised engine (default ``int8_engine()``) for the block, then restore the previous one
    (``qlinear`` needs no engine: nothing is set)."""
    engine = engine or int8_engine()
    previous = torch.backends.quantized.engine
    if engine != QLINEAR:
        torch.backends.quantized.engine = engine
    try:
        yield engine
    finally:
        torch.backends.quantized.engine = previous


class FusedProjection:
    """q, k and v of one attention as one int8 matmul over their stacked weights: the first of them to run computes
    all three outputs for its input, the others take their columns (views, no copy); the output is dropped once all
    ``readers`` have used it. The numerics are those of three layers: the weights are quantised per output channel
    and the shared input per tensor either way. One wider matmul with one activation quantisation instead of three
    ran the ViT-L q/k/v 1.14x faster (oneDNN, 514 rows) and 1.18x (fbgemm held to AVX2) on this repo's Xeon.

    Held as a plain attribute of its ``ProjectionSlice`` modules (not a submodule), so the module tree and
    ``state_dict`` keep the three layers' names and float weights."""

    def __init__(self, layer: nn.Module, widths: list[int]) -> None:
        self.layer, self.readers = layer, len(widths)
        self.bounds = [(sum(widths[:i]), sum(widths[:i + 1])) for i in range(len(widths))]
        self.entry: tuple[weakref.ref, torch.Tensor] | None = None
        self.uses = 0

    def output(self, x: torch.Tensor, index: int) -> torch.Tensor:
        """Reader ``index``'s columns of the fused output for ``x`` (computed once per input object)."""
        if self.entry is None or self.entry[0]() is not x:
            self.entry, self.uses = (weakref.ref(x), self.layer(x)), 0
        out = self.entry[1]
        self.uses += 1
        if self.uses >= self.readers:
            self.entry = None
        start, stop = self.bounds[index]
        return out[..., start:stop]

    def float_state(self, index: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        weight, bias = float_state(self.layer)
        start, stop = self.bounds[index]
        return weight[start:stop], None if bias is None else bias[start:stop]

    def __deepcopy__(self, memo: dict[int, Any]) -> FusedProjection:
        clone = copy.copy(self)
        clone.layer, clone.entry, clone.uses = copy.deepcopy(self.layer, memo), None, 0
        return clone

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "entry": None, "uses": 0}


class ProjectionSlice(nn.Module):
    """One of q/k/v, computed by its attention's ``FusedProjection``; ``state_dict`` holds its own float weight and
    bias (dequantised), as the Linear it replaces."""

    def __init__(self, fused: FusedProjection, index: int, in_features: int) -> None:
        super().__init__()
        self.fused, self.index, self.in_features = fused, index, in_features
        start, stop = fused.bounds[index]
        self.out_features = stop - start

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fused.output(x, self.index)

    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        weight, bias = self.fused.float_state(self.index)
        destination[prefix + "weight"] = weight
        if bias is not None:
            destination[prefix + "bias"] = bias

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, fused={self.fused.layer!r}"


def float_state(layer: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A quantised Linear's weight (dequantised) and bias, as float tensors."""
    if isinstance(layer, Int8Linear):
        return layer.qweight.float() * layer.scale[:, None], layer.bias
    bias = layer.bias()
    return layer.weight().dequantize(), None if bias is None else bias.detach()


def quantise_activation(x: torch.Tensor) -> tuple[torch.Tensor, float, int]:
    """``x`` (2-D float32) as u8 codes with one scale and zero point (the range widened to include 0)."""
    low, high = (float(v) for v in torch.aminmax(x))
    low, high = min(low, 0.0), max(high, 0.0)
    scale = (high - low) / 255 or 1.0
    zero_point = min(max(round(-low / scale), 0), 255)
    quantised = torch.quantize_per_tensor(x, scale, zero_point, torch.quint8)
    # its u8 storage, viewed without a copy (int_repr() would copy it)
    codes = torch.empty(0, dtype=torch.uint8).set_(quantised.untyped_storage(), 0, x.shape, x.stride())
    return codes, scale, zero_point


@functools.cache
def _absorb_quint8_warning() -> None:
    """torch warns once per process that quint8 tensors are deprecated: take that warning here, when the first layer
    is packed, not on a caller's first forward (the kernel takes the u8 codes, not the quint8 tensor)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.quantize_per_tensor(torch.zeros(1), 1.0, 0, torch.quint8)


class Int8Linear(nn.Module):
    """A Linear on oneDNN's int8 matmul: per-channel symmetric int8 weights, activations quantised per call
    (u8, one scale per tensor), float32 or ``out_dtype`` out, optionally with the exact GELU applied in the
    kernel (``post_op="gelu"``). ``state_dict()`` holds the dequantised ``weight`` and the ``bias`` (as a float
    Linear's), so fingerprints and exports keep working; a deep copy repacks."""

    def __init__(self, linear: nn.Linear, out_dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        weight = linear.weight.detach().float()
        self.in_features, self.out_features, self.out_dtype = weight.shape[1], weight.shape[0], out_dtype
        self.post_op = "none"
        scale = (weight.abs().amax(dim=1) / 127).clamp_min(torch.finfo(torch.float32).tiny)
        self.register_buffer("qweight", torch.clamp(torch.round(weight / scale[:, None]), -128, 127).to(torch.int8))
        self.register_buffer("scale", scale)
        bias = linear.bias.detach().float().clone() if linear.bias is not None else None
        self.register_buffer("bias", bias)
        self.register_buffer("zero_points", torch.zeros(self.out_features, dtype=torch.long), persistent=False)
        self.pack()

    def pack(self) -> None:
        self.packed = torch.ops.onednn.qlinear_prepack(self.qweight, None)
        _absorb_quint8_warning()

    def __deepcopy__(self, memo: dict[int, Any]) -> Int8Linear:
        clone = copy.copy(self)  # its packed weights are replaced by pack() below (they cannot be copied)
        clone._buffers = {k: copy.deepcopy(v, memo) for k, v in self._buffers.items()}
        clone._modules, clone._parameters = {}, {}
        clone.pack()
        return clone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        flat = x.reshape(-1, self.in_features).to(torch.float32).contiguous()
        if not flat.numel():
            return x.new_zeros(*shape[:-1], self.out_features, dtype=self.out_dtype)
        codes, scale, zero_point = quantise_activation(flat)
        out = torch.ops.onednn.qlinear_pointwise(codes, scale, zero_point, self.packed, self.scale,
                                                 self.zero_points, self.bias, 1.0, 0, self.out_dtype,
                                                 self.post_op, [], "none")
        return out.view(*shape[:-1], self.out_features)

    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        destination[prefix + "weight"], bias = float_state(self)
        if bias is not None:
            destination[prefix + "bias"] = bias

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, kernel=onednn int8, " \
               f"out_dtype={self.out_dtype}, post_op={self.post_op}"


def quantize_int8(module: nn.Module) -> int:
    """Merge LoRA adapters, then swap every transformer ``nn.Linear`` for a dynamically quantised one, in place.

    Output projections (``*projection``) stay float. The q, k and v of an attention become one matmul
    (``FusedProjection``). The quantised layers still report float ``weight`` / ``bias`` in ``state_dict()``
    (dequantised), so fingerprints and exports keep working. Layers are swapped one attention or layer at a time
    and the freed fp32 memory is handed back to the system as it goes, so converting never needs more memory than
    the fp32 model held. Returns the count of Linear layers quantised.
    """
    merge_lora(module)
    names = int8_targets(module)
    fused = fuse_projections(module, set(names))
    for count, name in enumerate((name for name in names if name not in fused), 1):
        parent_name, _, attr = name.rpartition(".")
        parent = module.get_submodule(parent_name) if parent_name else module
        setattr(parent, attr, dynamic_int8(getattr(parent, attr), name))
        if count % 8 == 0:
            release_free_memory()
    release_free_memory()
    fuse_gelu(module)
    return len(names)


def fuse_projections(module: nn.Module, targets: set[str]) -> set[str]:
    """Each attention whose q, k and v are all ``targets`` (and all have a bias, or none has): the three replaced by
    slices of one quantised matmul over their stacked weights. Returns the names of the layers replaced."""
    from languagebind.model.transformer import Attention

    replaced: set[str] = set()
    for name, sub in list(module.named_modules()):
        names = [f"{name}.{attr}" if name else attr for attr in ATTENTION_INPUTS]
        if not isinstance(sub, Attention) or not targets.issuperset(names):
            continue
        layers = [getattr(sub, attr) for attr in ATTENTION_INPUTS]
        if len({layer.bias is None for layer in layers}) != 1:
            continue
        stacked = stack_linears(layers)
        fused = FusedProjection(dynamic_int8(stacked, attention_input=True), [layer.out_features for layer in layers])
        for index, attr in enumerate(ATTENTION_INPUTS):
            setattr(sub, attr, ProjectionSlice(fused, index, layers[0].in_features))
        replaced.update(names)
        del layers, stacked
        release_free_memory()
    return replaced


def stack_linears(layers: list[nn.Linear]) -> nn.Linear:
    """One float Linear computing ``layers`` (same input width; all with a bias or none) side by side."""
    stacked = nn.Linear(layers[0].in_features, sum(layer.out_features for layer in layers),
                        bias=layers[0].bias is not None)
    with torch.no_grad():
        stacked.weight.copy_(torch.cat([layer.weight.detach() for layer in layers]))
        if stacked.bias is not None:
            stacked.bias.copy_(torch.cat([layer.bias.detach() for layer in layers]))
    return stacked


def fuse_gelu(module: nn.Module) -> None:
    """Where oneDNN's kernel computes: fc1 applies the MLP's exact GELU in its kernel (the MLP's own activation
    becomes the identity)."""
    from languagebind.model.transformer import MLP

    for sub in module.modules():
        if isinstance(sub, MLP) and isinstance(sub.fc1, Int8Linear) and sub.act is torch.nn.functional.gelu:
            sub.fc1.post_op, sub.act = "gelu", identity


def identity(x: torch.Tensor) -> torch.Tensor:
    return x


def dynamic_int8(linear: nn.Linear, name: str = "", attention_input: bool | None = None) -> nn.Module:
    """A dynamically quantised copy of ``linear`` (per-channel int8 weights, activations quantised per call) for
    ``int8_engine()``. With ``qlinear`` on a CPU with native bf16, the attention inputs (``attention_input``; by
    default ``name`` ending in q/k/v ``_proj``) come out in bfloat16, so attention computes in bf16."""
    linear = linear.merged() if isinstance(linear, LoRALinear) else linear
    engine = int8_engine()
    if engine == QLINEAR:
        from languagebind.precision.device import cpu_has_native_bf16

        if attention_input is None:
            attention_input = name.rpartition(".")[2] in ATTENTION_INPUTS
        return Int8Linear(linear, torch.bfloat16 if attention_input and cpu_has_native_bf16() else torch.float32)
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear
    from torch.ao.quantization import per_channel_dynamic_qconfig

    linear = copy.copy(linear)
    linear.qconfig = per_channel_dynamic_qconfig  # per output channel: robust to outlier rows, same speed
    with warnings.catch_warnings(), quantised_engine(engine):
        warnings.simplefilter("ignore")  # torch.ao.quantization is deprecated in favour of torchao (not installed)
        quantised = DynamicLinear.from_float(linear)
    quantised.register_state_dict_post_hook(_dequantized_state)
    return quantised


ATTENTION_INPUTS = ("q_proj", "k_proj", "v_proj")


def is_int8_linear(module: nn.Module) -> bool:
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    return isinstance(module, (Int8Linear, DynamicLinear, ProjectionSlice))


def int8_targets(module: nn.Module) -> list[str]:
    """Names of the Linear layers int8 quantises: all but the output projections."""
    return [name for name, child in module.named_modules()
            if type(child) in (nn.Linear, LoRALinear) and not name.endswith("projection")]


def int8_output_hook(name: str) -> Any:
    """Forward hook for the Linear ``name``: its output replaced by its dynamically quantised counterpart's
    (quantised afresh for this call, so no second copy of the weights is kept), in float32 (a bf16 attention input
    is rounded to bf16, then attention runs on it in fp32, as the float tower around it computes)."""
    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], _output: torch.Tensor) -> torch.Tensor:
        return dynamic_int8(module, name)(inputs[0]).float()
    return hook


def _dequantized_state(module: nn.Module, state: dict, prefix: str, _meta: object) -> None:
    """state_dict hook of a quantised Linear: float ``weight``/``bias`` in place of the packed params."""
    for key in ("scale", "zero_point", "_packed_params.dtype", "_packed_params._packed_params"):
        state.pop(prefix + key, None)
    state[prefix + "weight"] = module.weight().dequantize()
    if module.bias() is not None:
        state[prefix + "bias"] = module.bias().detach()
