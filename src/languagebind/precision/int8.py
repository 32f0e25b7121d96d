"""Dynamic int8 quantisation of the transformer Linear layers (CPU; torch's quantised engines).

Weights are int8 with per-channel scales, activations are quantised per call. torch's quantised engine
(``torch.backends.quantized.engine``, process-wide) is set only while layers are quantised (``quantised_engine``)
and then restored: the weights are packed for the engine in effect at that moment and a packed layer keeps its
own kernels, so it runs the same whatever the engine is afterwards (tests/precision check it). A deep copy or a
``load_state_dict`` of a quantised layer repacks it for the engine in effect at that time.
"""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from languagebind.errors import InputError
from languagebind.model.lora import LoRALinear, merge_lora
from languagebind.precision.memory import release_free_memory


def int8_engine() -> str:
    """The quantised engine int8 layers are packed for: fbgemm (``x86``) where torch has it, else torch's
    default; ``LANGUAGEBIND_INT8_ENGINE`` (e.g. ``onednn``) overrides.

    oneDNN was up to 15 % faster on single ViT-L layers here, but no faster on whole towers, and on a full-size
    video batch (16k rows per matmul) it held 7 GB where fbgemm held 2.7 GB.
    """
    supported = torch.backends.quantized.supported_engines
    forced = os.environ.get("LANGUAGEBIND_INT8_ENGINE")
    if forced and forced not in supported:
        raise InputError(forced, f"not a quantised engine of this torch build: {supported}")
    return forced or ("x86" if "x86" in supported else torch.backends.quantized.engine)


@contextmanager
def quantised_engine(engine: str | None = None) -> Iterator[str]:
    """Set torch's quantised engine (default ``int8_engine()``) for the block, then restore the previous one."""
    engine = engine or int8_engine()
    previous = torch.backends.quantized.engine
    torch.backends.quantized.engine = engine
    try:
        yield engine
    finally:
        torch.backends.quantized.engine = previous


def quantize_int8(module: nn.Module) -> int:
    """Merge LoRA adapters, then swap every transformer ``nn.Linear`` for a dynamically quantised one, in place.

    Output projections (``*projection``) stay float. The quantised layers still report float ``weight`` /
    ``bias`` in ``state_dict()`` (dequantised), so fingerprints and exports keep working. Layers are swapped one
    at a time and the freed fp32 memory is handed back to the system as it goes, so converting never needs more
    memory than the fp32 model held. Returns the count.
    """
    merge_lora(module)
    names = int8_targets(module)
    for count, name in enumerate(names, 1):
        parent_name, _, attr = name.rpartition(".")
        parent = module.get_submodule(parent_name) if parent_name else module
        quantised = dynamic_int8(getattr(parent, attr))
        quantised.register_state_dict_post_hook(_dequantized_state)
        setattr(parent, attr, quantised)
        if count % 8 == 0:
            release_free_memory()
    release_free_memory()
    return len(names)


def dynamic_int8(linear: nn.Linear) -> nn.Module:
    """A dynamically quantised copy of ``linear`` (per-channel int8 weights, activations quantised per call),
    packed for ``int8_engine()``."""
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear
    from torch.ao.quantization import per_channel_dynamic_qconfig

    linear = copy.copy(linear.merged() if isinstance(linear, LoRALinear) else linear)
    linear.qconfig = per_channel_dynamic_qconfig  # per output channel: robust to outlier rows, same speed
    with warnings.catch_warnings(), quantised_engine():
        warnings.simplefilter("ignore")  # torch.ao.quantization is deprecated in favour of torchao (not installed)
        return DynamicLinear.from_float(linear)


def int8_targets(module: nn.Module) -> list[str]:
    """Names of the Linear layers int8 quantises: all but the output projections."""
    return [name for name, child in module.named_modules()
            if type(child) in (nn.Linear, LoRALinear) and not name.endswith("projection")]


def int8_output(module: nn.Module, inputs: tuple[torch.Tensor, ...], _output: torch.Tensor) -> torch.Tensor:
    """Forward hook: a float Linear's output replaced by its dynamically quantised counterpart's (quantised
    afresh for this call, so no second copy of the weights is kept)."""
    return dynamic_int8(module)(inputs[0])


def _dequantized_state(module: nn.Module, state: dict, prefix: str, _meta: object) -> None:
    """state_dict hook of a quantised Linear: float ``weight``/``bias`` in place of the packed params."""
    for key in ("scale", "zero_point", "_packed_params.dtype", "_packed_params._packed_params"):
        state.pop(prefix + key, None)
    state[prefix + "weight"] = module.weight().dequantize()
    if module.bias() is not None:
        state[prefix + "bias"] = module.bias().detach()
