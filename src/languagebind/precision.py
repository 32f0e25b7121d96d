"""Device and numeric precision for inference.

* ``fp32`` (default) is faithful to the official numerics.
* ``bf16`` / ``fp16`` cast the towers' weights; fast only where the hardware computes them natively (CUDA, or
  CPUs with AVX-512 BF16 / AMX). On AVX2-only CPUs bf16 is several times SLOWER than fp32.
* ``int8`` replaces the modality towers' transformer Linear layers by dynamically quantised ones (int8 weights
  with per-channel scales, activations quantised per call; CPU only; torch's fbgemm engine). The projections,
  embeddings, norms and attention stay fp32. The language tower is not quantised: pretrained text encoders have
  outlier activation channels that per-tensor activation quantisation cannot represent (MiniLM: cosine 0.98 to
  fp32); it runs in bf16 where the CPU has native bf16, else fp32.
* ``auto`` picks, for the device it runs on, the fastest of the modes the hardware supports natively, by timing
  one transformer block of the model's widest tower in each (once per process and block shape); a mode replaces
  fp32 only when it is clearly faster, so ``auto`` is never slower than fp32. Before choosing int8 it simulates the
  quantised towers on a synthetic probe and keeps int8 only if their output stays within
  ``INT8_MIN_PROBE_COSINE`` of fp32 (real checkpoints with outlier activations fall back to bf16 or fp32).

The logit scales always stay float32; ``LanguageBind`` returns float32 embeddings in every mode.
"""

from __future__ import annotations

import copy
import ctypes
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from functools import cache, partial

import torch
from torch import nn

from languagebind.errors import InputError
from languagebind.model.config import TransformerConfig, VisionConfig
from languagebind.model.lora import LoRALinear, merge_lora
from languagebind.model.transformer import Block

PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")
FLOAT_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
# Agreement order: a faster mode must beat the next more accurate one by this factor to be chosen.
MIN_SPEEDUP = 1.10
# auto keeps int8 only if the simulated int8 towers give at least this cosine to fp32 on a synthetic probe
# (the agreement bound is 0.995 on real inputs; random ViT-L/14 towers give ~0.999, MiniLM-like outliers ~0.98).
INT8_MIN_PROBE_COSINE = 0.998
_AUTO_CACHE: dict[tuple, dict[str, float]] = {}  # (device, block shape, threads, modes) -> seconds per mode
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # glibc mallopt parameters
_allocator_tuned = False
_int8_engine: str | None = None


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None`` -> the first CUDA device when there is one, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as err:
        raise InputError(device, f"not a device ({err})") from err


def cpu_has_native_bf16() -> bool:
    """True where the CPU has bf16 dot-product instructions (AVX-512 BF16 or AMX)."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def int8_supported() -> bool:
    """Dynamic int8 quantisation needs one of torch's x86/ARM quantised engines."""
    return bool({"x86", "fbgemm", "onednn", "qnnpack"} & set(torch.backends.quantized.supported_engines))


def hardware_summary() -> dict[str, object]:
    """What the precision choice depends on (for benchmark reports and logs)."""
    return {"cpu_capability": torch.backends.cpu.get_cpu_capability(), "cpu_native_bf16": cpu_has_native_bf16(),
            "int8_engine": _int8_engine or torch.backends.quantized.engine, "threads": torch.get_num_threads(),
            "malloc_tuned": _allocator_tuned,
            "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None}


def native_precisions(device: torch.device) -> list[str]:
    """Modes the hardware runs natively, most faithful first (``auto`` chooses among these)."""
    if device.type == "cuda":
        return ["fp32", "bf16" if torch.cuda.is_bf16_supported() else "fp16"]
    if device.type != "cpu":
        return ["fp32"]
    return ["fp32"] + (["bf16"] if cpu_has_native_bf16() else []) + (["int8"] if int8_supported() else [])


def apply_precision(model: nn.Module, precision: str, device: torch.device) -> str:
    """Move ``model`` to ``device`` in ``precision`` (in place); returns the concrete mode used.

    ``model`` is a ``LanguageBindModel`` (int8 then quantises its ``towers`` only) or any module. Every child
    except ``logit_scales`` is converted, so the scales stay float32.
    """
    if precision not in PRECISIONS:
        raise InputError(precision, f"unknown precision; use one of {', '.join(PRECISIONS)}")
    if precision == "int8" and device.type != "cpu":
        raise InputError(precision, f"int8 (dynamic quantisation) runs on the CPU only, not {device}")
    model.to(device)
    if precision == "auto":
        precision = auto_precision(model, device)
    convert(model, precision)
    if device.type == "cpu":
        tune_cpu_allocator()  # after the conversion, so the freed fp32 weights go back to the system
    return precision


def convert(model: nn.Module, mode: str) -> None:
    """Convert ``model`` in place to a concrete ``mode`` (see the module docstring)."""
    parts = [module for name, module in model.named_children() if name != "logit_scales"]
    towers = getattr(model, "towers", None)
    if mode in ("bf16", "fp16"):
        for module in parts:
            module.to(FLOAT_DTYPES[mode])
            release_free_memory()
    elif mode == "int8":
        for module in [towers] if towers is not None else parts:
            quantize_int8(module)
        for module in parts if towers is not None and cpu_has_native_bf16() else []:
            if module is not towers:
                module.to(torch.bfloat16)  # the language tower(s)
                release_free_memory()


def tune_cpu_allocator() -> bool:
    """Keep freed memory in the process heap (glibc): activations then reuse it instead of page-faulting.

    By default glibc serves blocks over 32 MB with fresh ``mmap`` pages and returns them on ``free``, so every
    forward pass re-faults (and the kernel zeroes) its large activations: ~500k page faults and ~15% of the CPU
    time for a ViT-L batch of 8. With ``M_MMAP_MAX=0`` and a high trim threshold the heap keeps them for reuse
    (the process then holds its high-water mark until exit). Process-wide, once; ``LANGUAGEBIND_MALLOC_TUNING=0``
    turns it off; a no-op off glibc. Returns whether it is in effect.
    """
    global _allocator_tuned
    if _allocator_tuned or os.environ.get("LANGUAGEBIND_MALLOC_TUNING", "1") == "0":
        return _allocator_tuned
    libc = _libc()
    if libc is None:
        return False
    _allocator_tuned = libc.mallopt(_M_MMAP_MAX, 0) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1) == 1
    return _allocator_tuned


def release_free_memory() -> None:
    """Give the heap's free pages back to the system (glibc ``malloc_trim``; a no-op elsewhere)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


@cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt.argtypes, libc.malloc_trim.argtypes = [ctypes.c_int, ctypes.c_int], [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    return libc


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


def select_int8_engine() -> str:
    """Set torch's quantised engine for dynamic int8 Linear layers, once per process: fbgemm (``x86``) where
    torch has it, else torch's default; ``LANGUAGEBIND_INT8_ENGINE`` (e.g. ``onednn``) overrides.

    Layers are packed for the engine in effect when they are quantised, so ``dynamic_int8`` calls this first.
    oneDNN was up to 15 % faster on single ViT-L layers here, but no faster on whole towers, and on a full-size
    video batch (16k rows per matmul) it held 7 GB where fbgemm held 2.7 GB.
    """
    global _int8_engine
    if _int8_engine is None:
        supported = torch.backends.quantized.supported_engines
        forced = os.environ.get("LANGUAGEBIND_INT8_ENGINE")
        if forced and forced not in supported:
            raise InputError(forced, f"not a quantised engine of this torch build: {supported}")
        _int8_engine = forced or ("x86" if "x86" in supported else torch.backends.quantized.engine)
    torch.backends.quantized.engine = _int8_engine
    return _int8_engine


def dynamic_int8(linear: nn.Linear) -> nn.Module:
    """A dynamically quantised copy of ``linear`` (per-channel int8 weights, activations quantised per call)."""
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear
    from torch.ao.quantization import per_channel_dynamic_qconfig

    select_int8_engine()  # the weights are packed for the engine in effect now
    linear = copy.copy(linear.merged() if isinstance(linear, LoRALinear) else linear)
    linear.qconfig = per_channel_dynamic_qconfig  # per output channel: robust to outlier rows, same speed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization is deprecated in favour of torchao (not installed)
        return DynamicLinear.from_float(linear)


def int8_targets(module: nn.Module) -> list[str]:
    """Names of the Linear layers int8 quantises: all but the output projections."""
    return [name for name, child in module.named_modules()
            if type(child) in (nn.Linear, LoRALinear) and not name.endswith("projection")]


def int8_probe_cosine(tower: nn.Module, seed: int = 0) -> float:
    """Mean cosine between a modality tower's fp32 output and its simulated int8 output on a synthetic probe.

    The simulation runs the fp32 tower with every target Linear's output replaced by its dynamically quantised
    counterpart's (one layer quantised at a time, so no second copy of the weights is held).
    """
    pixels = probe_pixels(tower.config, torch.Generator().manual_seed(seed)).to(input_dtype(tower))
    with torch.inference_mode():
        reference = tower(pixels).float()
        hooks = [tower.get_submodule(name).register_forward_hook(_int8_output) for name in int8_targets(tower)]
        try:
            simulated = tower(pixels).float()
        finally:
            for hook in hooks:
                hook.remove()
    return float(torch.nn.functional.cosine_similarity(simulated, reference).mean())


def probe_pixels(cfg: VisionConfig, generator: torch.Generator, batch: int = 2) -> torch.Tensor:
    """Normalised-pixel noise in a tower's input geometry (video: 2 frames, or all when frames are tubed)."""
    frames = (cfg.num_frames if cfg.tube_size > 1 else min(cfg.num_frames, 2),) if cfg.modality == "video" else ()
    return torch.randn(batch, cfg.num_channels, *frames, *cfg.image_size, generator=generator)


def _int8_output(module: nn.Module, inputs: tuple[torch.Tensor, ...], _output: torch.Tensor) -> torch.Tensor:
    return dynamic_int8(module)(inputs[0])


def _dequantized_state(module: nn.Module, state: dict, prefix: str, _meta: object) -> None:
    """state_dict hook of a quantised Linear: float ``weight``/``bias`` in place of the packed params."""
    for key in ("scale", "zero_point", "_packed_params.dtype", "_packed_params._packed_params"):
        state.pop(prefix + key, None)
    state[prefix + "weight"] = module.weight().dequantize()
    if module.bias() is not None:
        state[prefix + "bias"] = module.bias().detach()


def input_dtype(module: nn.Module) -> torch.dtype:
    """The float dtype a module computes in (its first floating parameter's; float32 when it has none)."""
    for param in module.parameters():
        if param.is_floating_point():
            return param.dtype
    return torch.float32


def float32_features(features: torch.Tensor, normalize: bool) -> torch.Tensor:
    """Model output in any precision -> float32 on the CPU, L2-normalised in float32 when ``normalize``."""
    features = features.float().cpu()
    return torch.nn.functional.normalize(features, dim=-1) if normalize else features


# -- auto ------------------------------------------------------------------------------------------------
def probe_config(model: nn.Module) -> tuple[TransformerConfig, int]:
    """The widest modality tower's transformer (else the widest in ``model``) and its token count: what ``auto``
    times."""
    return widest(getattr(child, "config", None) for child in getattr(model, "towers", model).modules())


def widest(configs: Iterable[object]) -> tuple[TransformerConfig, int]:
    """Of tower configs (vision or text; others are ignored), the widest transformer and its token count."""
    best: tuple[TransformerConfig, int] | None = None
    for cfg in configs:
        transformer = getattr(cfg, "transformer", None)
        if not isinstance(transformer, TransformerConfig):
            continue
        tokens = getattr(cfg, "num_positions", None) or getattr(cfg, "context_length", 77)
        if best is None or transformer.width * transformer.layers > best[0].width * best[0].layers:
            best = (transformer, int(tokens))
    if best is None:  # no transformer config found: a CLIP-B-sized block stands in
        best = (TransformerConfig(width=768, layers=12, heads=12, mlp_dim=3072), 77)
    return best


def prepare_auto(visions: Iterable[VisionConfig], device: torch.device) -> None:
    """Time ``auto``'s candidate modes for these towers' shape now, before their weights are in memory, so the
    probe blocks never sit on top of a loaded model (``apply_precision`` then reuses the timings)."""
    if device.type == "cpu":
        _mode_timings(widest(visions), device, native_precisions(device))


def _mode_timings(probe: tuple[TransformerConfig, int], device: torch.device, candidates: list[str]
                  ) -> dict[str, float]:
    key = (device.type, probe, torch.get_num_threads(), tuple(candidates))
    if key not in _AUTO_CACHE:
        _AUTO_CACHE[key] = time_blocks(probe, candidates)
        release_free_memory()
    return _AUTO_CACHE[key]


def auto_precision(model: nn.Module, device: torch.device) -> str:
    """The fastest native mode for ``model`` (timed on a block of its shape); int8 only if it stays faithful."""
    candidates = native_precisions(device)
    if device.type == "cuda":  # GPUs compute half precision natively: no need to time
        return candidates[-1]
    timings = _mode_timings(probe_config(model), device, candidates)
    chosen = pick_fastest(timings, candidates)
    towers = getattr(model, "towers", {})
    if chosen == "int8" and any(int8_probe_cosine(t) < INT8_MIN_PROBE_COSINE for t in towers.values()):
        chosen = pick_fastest(timings, [mode for mode in candidates if mode != "int8"])
    return chosen


def pick_fastest(timings: dict[str, float], order: list[str]) -> str:
    """Walk from the most faithful mode; move to a less faithful one only when it is ``MIN_SPEEDUP`` faster."""
    chosen = order[0]
    for mode in order[1:]:
        if timings[mode] * MIN_SPEEDUP <= timings[chosen]:
            chosen = mode
    return chosen


def time_blocks(probe: tuple[TransformerConfig, int], modes: list[str], rounds: int = 5) -> dict[str, float]:
    """Seconds for one forward of a random block (batch 2) in each mode on the CPU: the best of ``rounds``
    interleaved rounds (mode after mode), so load from other processes hits every mode alike."""
    cfg, tokens = probe
    x = torch.randn(2, tokens, cfg.width, generator=torch.Generator().manual_seed(0))
    runs: dict[str, Callable[[], object]] = {}
    for mode in modes:
        block = Block(cfg).eval()
        convert(block, mode)
        runs[mode] = partial(block, x.to(input_dtype(block)))
    best = dict.fromkeys(modes, float("inf"))
    with torch.inference_mode():
        for run in runs.values():
            run()  # warm-up: kernel selection, weight packing
        for _ in range(rounds):
            for mode, run in runs.items():
                start = time.perf_counter()
                run()
                best[mode] = min(best[mode], time.perf_counter() - start)
    return best
