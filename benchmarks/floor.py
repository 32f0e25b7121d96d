"""The machine's matmul floor for a tower: its matmul work, the fastest GEMM rate each installed engine reaches on
the tower's matmul shapes, and work / best rate (what no engine can beat by matmul speed alone).

Engines and precisions measured on ``x (M, K) @ W (K, N)`` for every Linear shape of the tower (M = rows in one
batch, capped at ``MAX_ROWS``: the rate is saturated long before):

* ``torch-fp32``: ``nn.Linear`` (MKL / oneDNN sgemm);
* ``torch-bf16``: ``nn.Linear`` in bfloat16 (oneDNN: AMX or AVX-512 BF16), only where the CPU has native bf16;
* ``fbgemm-int8``: torch's dynamic int8 ``Linear`` (fbgemm, per-channel weights, activations quantised per call);
* ``ort-fp32``: ONNX Runtime ``MatMul`` (MLAS sgemm);
* ``ort-int8``: ONNX Runtime dynamic int8 (``DynamicQuantizeLinear`` + ``MatMulInteger``, MLAS; s8 weights with
  VNNI/AMX, u8 without), as ``precision="ort-int8"`` runs it.

Attention's two matmuls per layer (QK^T and AV, 4·B·h·L²·d_h FLOPs) count as work at the best fp32 or, where
chosen, low-precision rate of the tower's widest Linear shape. Used by ``benchmarks/encode.py --stages floor``.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

MAX_ROWS = 4096


def tower_shapes(config: Any, batch: int, text_tokens: int = 0) -> dict[str, Any]:
    """Matmul work of one batch through a tower: ``{"linear": [(M, K, N, count)], "attention_flops": F,
    "conv_flops": F}``. ``config`` is a ``CheckpointConfig``; ``text_tokens`` > 0 selects its text tower at that
    token count (after our padding drop)."""
    if text_tokens:
        t = config.text.transformer
        rows, tokens, groups, extra = batch * text_tokens, text_tokens, batch, None
        conv = 0
    else:
        vis = config.vision
        t = vis.transformer
        frames = vis.num_frames // max(vis.tube_size, 1) if vis.modality == "video" else 1
        tokens = vis.num_positions
        rows, groups = batch * frames * tokens, batch * frames
        extra = (batch * tokens, frames) if vis.temporal and frames > 1 else None  # temporal attention
        kernel = vis.num_channels * vis.patch_size ** 2 * max(vis.tube_size, 1)
        conv = 2 * batch * frames * (tokens - 1) * kernel * t.width
    w, mlp, layers = t.width, t.mlp_dim, t.layers
    linear = [(rows, w, w, 4 * layers), (rows, w, mlp, layers), (rows, mlp, w, layers)]
    attention = 4 * groups * tokens * tokens * w * layers
    if extra is not None:  # video temporal mixer: 4 more projections and attention across frames per token
        linear.append((rows, w, w, 4 * layers))
        attention += 4 * extra[0] * extra[1] * extra[1] * w * layers
    return {"linear": linear, "attention_flops": attention, "conv_flops": conv}


def work_flops(shapes: dict[str, Any]) -> float:
    return float(sum(2 * m * k * n * c for m, k, n, c in shapes["linear"]) + shapes["attention_flops"]
                 + shapes["conv_flops"])


def _best(fn: Any, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def gemm_rates(shapes: list[tuple[int, int, int]], threads: int, native_bf16: bool, repeats: int = 3
               ) -> dict[str, dict[str, float]]:
    """``{engine: {"MxKxN": GFLOP/s}}`` for each distinct (M, K, N) (M capped at ``MAX_ROWS``)."""
    import torch

    from languagebind.precision import ort_available, quantize_int8

    torch.set_num_threads(threads)
    rates: dict[str, dict[str, float]] = {}
    gen = torch.Generator().manual_seed(0)
    with tempfile.TemporaryDirectory(prefix="lb-gemm-") as workdir, torch.inference_mode():
        for m, k, n in sorted(set(shapes)):
            m = min(m, MAX_ROWS)
            name, flops = f"{m}x{k}x{n}", 2.0 * m * k * n
            x = torch.randn(m, k, generator=gen)
            linear = torch.nn.Linear(k, n).eval()
            runs = {"torch-fp32": (linear, x)}
            if native_bf16:
                runs["torch-bf16"] = (torch.nn.Linear(k, n).to(torch.bfloat16).eval(), x.bfloat16())
            holder = torch.nn.Sequential(torch.nn.Linear(k, n))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                quantize_int8(holder)
            runs["fbgemm-int8"] = (holder, x)
            for engine, (module, arg) in runs.items():
                rates.setdefault(engine, {})[name] = flops / _best(lambda mod=module, a=arg: mod(a), repeats) / 1e9
            if ort_available():
                from languagebind.precision.ort import gemm_session

                weight = linear.weight.detach().t().contiguous().numpy()
                for precision in ("fp32", "int8"):
                    session = gemm_session(weight, precision, Path(workdir), threads)
                    feed = {"x": x.numpy()}
                    rates.setdefault(f"ort-{precision}", {})[name] = \
                        flops / _best(lambda s=session, f=feed: s.run(None, f), repeats) / 1e9
    return rates


def floor(shapes: dict[str, Any], rates: dict[str, dict[str, float]], engines: list[str]) -> dict[str, Any]:
    """Seconds of matmul work at the best rate among ``engines`` on each shape (attention and the patch conv at
    the best rate of the tower's widest Linear shape); the engine that set each shape's best rate."""
    seconds, best_engine = 0.0, {}
    for m, k, n, count in shapes["linear"]:
        name = f"{min(m, MAX_ROWS)}x{k}x{n}"
        engine = max(engines, key=lambda e: rates.get(e, {}).get(name, 0.0))
        best_engine[name] = engine
        seconds += count * 2 * m * k * n / (rates[engine][name] * 1e9)
    widest = max(shapes["linear"], key=lambda s: s[1] * s[2])
    name = f"{min(widest[0], MAX_ROWS)}x{widest[1]}x{widest[2]}"
    top = max(rates.get(e, {}).get(name, 0.0) for e in engines)
    seconds += (shapes["attention_flops"] + shapes["conv_flops"]) / (top * 1e9)
    return {"seconds": seconds, "best_engine": best_engine, "work_gflop": work_flops(shapes) / 1e9}


def profile_tower(forward: Any, arg: Any) -> dict[str, float]:
    """Self CPU seconds of one forward by category (torch.profiler): Linear, attention, GELU, LayerNorm,
    elementwise (residual adds, scaling), copies, conv (patch embedding), other."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    forward(arg)  # warm-up
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        forward(arg)
    totals: dict[str, float] = {}
    for event in prof.key_averages():
        key = category(event.key)
        totals[key] = totals.get(key, 0.0) + event.self_cpu_time_total / 1e6
    del torch
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


CATEGORIES = (
    ("linear", ("addmm", "aten::mm", "aten::linear", "aten::matmul", "quantized::linear", "onednn::linear",
                "mkldnn_linear", "_weight_int8pack")),
    ("attention", ("bmm", "softmax", "scaled_dot_product", "flash_attention", "baddbmm", "masked_fill")),
    ("gelu", ("gelu", "sigmoid")),
    ("layernorm", ("layer_norm",)),
    ("elementwise", ("aten::add", "aten::mul", "aten::div", "aten::mean")),
    ("copies", ("copy_", "clone", "contiguous", "aten::cat", "_to_copy", "aten::to", "empty", "fill_", "zero_",
                "quantize_per_tensor", "dequantize", "aten::select", "index")),
    ("conv", ("conv",)),
)


def category(name: str) -> str:
    for key, needles in CATEGORIES:
        if any(needle in name for needle in needles):
            return key
    return "other"


def summarise_rates(rates: dict[str, dict[str, float]]) -> dict[str, float]:
    return {engine: float(np.max(list(by_shape.values()))) for engine, by_shape in rates.items()}
