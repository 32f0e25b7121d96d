"""The machine's matmul floor for a tower: its matmul work, the fastest rate each installed engine reaches on the
tower's own matmul shapes, and work / best rate (what no engine can beat by matmul speed alone).

Linear shapes ``x (M, K) @ W (K, N)`` (M = rows in one batch, capped at ``MAX_ROWS``: the rate is saturated long
before), measured per engine:

* ``torch-fp32``: ``nn.Linear`` (MKL / oneDNN sgemm);
* ``torch-bf16``: ``nn.Linear`` in bfloat16 (oneDNN: AMX or AVX-512 BF16), only where the CPU has native bf16;
* ``torch-int8``: ``precision="int8"``'s Linear (``int8_engine()``: oneDNN's int8 matmul with AMX / AVX-512
  VNNI, else fbgemm; per-channel weights, activations quantised per call);
* ``ort-fp32``: ONNX Runtime ``MatMul`` (MLAS sgemm);
* ``ort-int8``: ONNX Runtime dynamic int8 (``DynamicQuantizeLinear`` + ``MatMulInteger``, MLAS; s8 weights with
  VNNI/AMX, u8 without), as ``precision="ort-int8"`` runs it.

Each timed call runs the shape through several distinct weight matrices (up to one per layer, ``copies``), as a
forward pass does: every weight is read from memory once per pass. Timing one matrix over and over keeps it in the
core's cache and overstates the rate (AMX int8 on this Xeon: 2.65 TOP/s on one 1024x4096 weight, 2.24 cycling
through 24).

Attention's two matmuls per layer (QK^T and AV: 4·G·L²·d FLOPs for G = groups x heads) are measured on their own
batched shapes, ``(G, L, d) @ (G, d, L)`` and ``(G, L, L) @ (G, L, d)``, by the engines that compute attention:
torch fp32 and bf16 (native only) ``bmm`` and ONNX Runtime fp32 ``MatMul`` (no engine here quantises attention).
The patch convolution counts at the best rate of the tower's widest Linear shape. Used by ``benchmarks/encode.py
--stages floor``.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

MAX_ROWS = 4096
MAX_COPIES = 24  # distinct weights per Linear shape (one per layer of a ViT-L)
COPY_BUDGET = 512 << 20  # bytes of fp32 weights or outputs one timed call may hold
MAX_GROUPS = 256  # attention batch (groups x heads) timed; its rate is saturated long before
ATTENTION_ENGINES = ("torch-fp32", "torch-bf16", "ort-fp32")


def tower_shapes(config: Any, batch: int, text_tokens: int = 0) -> dict[str, Any]:
    """Matmul work of one batch through a tower: ``{"linear": [(M, K, N, count)], "attention": [(G, L, d,
    count)], "attention_flops": F, "conv_flops": F}``. ``config`` is a ``CheckpointConfig``; ``text_tokens`` > 0
    selects its text tower at that token count (after our padding drop)."""
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
    w, mlp, layers, head = t.width, t.mlp_dim, t.layers, t.width // t.heads
    linear = [(rows, w, w, 4 * layers), (rows, w, mlp, layers), (rows, mlp, w, layers)]
    attention = [(groups * t.heads, tokens, head, layers)]
    if extra is not None:  # video temporal mixer: 4 more projections and attention across frames per token
        linear.append((rows, w, w, 4 * layers))
        attention.append((extra[0] * t.heads, extra[1], head, layers))
    return {"linear": linear, "attention": attention, "conv_flops": conv,
            "attention_flops": sum(4 * g * n * n * d * c for g, n, d, c in attention)}


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


def copies_for(m: int, k: int, n: int, count: int) -> int:
    """Distinct weights one timed call of an (m, k, n) Linear cycles through."""
    return max(1, min(count, MAX_COPIES, COPY_BUDGET // (4 * max(k * n, m * n))))


def gemm_rates(shapes: list[tuple[int, int, int, int]], threads: int, native_bf16: bool, repeats: int = 3
               ) -> dict[str, dict[str, float]]:
    """``{engine: {"MxKxN": GFLOP/s}}`` for each distinct (M, K, N) of ``shapes`` ((M, K, N, count); M capped at
    ``MAX_ROWS``), each call cycling through ``copies_for`` distinct weights."""
    import torch

    from languagebind.precision import ort_available, quantize_int8

    torch.set_num_threads(threads)
    rates: dict[str, dict[str, float]] = {}
    gen = torch.Generator().manual_seed(0)
    counts: dict[tuple[int, int, int], int] = {}
    for m, k, n, count in shapes:
        key = (min(m, MAX_ROWS), k, n)
        counts[key] = max(counts.get(key, 0), count)
    with tempfile.TemporaryDirectory(prefix="lb-gemm-") as workdir, torch.inference_mode():
        for (m, k, n), count in sorted(counts.items()):
            copies = copies_for(m, k, n, count)
            name, flops = f"{m}x{k}x{n}", 2.0 * m * k * n * copies
            x = torch.randn(m, k, generator=gen)
            linears = torch.nn.Sequential(*(torch.nn.Linear(k, n) for _ in range(copies))).eval()
            runs = {"torch-fp32": (linears, x)}
            if native_bf16:
                runs["torch-bf16"] = (torch.nn.Sequential(*(torch.nn.Linear(k, n) for _ in range(copies)))
                                      .to(torch.bfloat16).eval(), x.bfloat16())
            quantised = torch.nn.Sequential(*(torch.nn.Linear(k, n) for _ in range(copies)))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                quantize_int8(quantised)
            runs["torch-int8"] = (quantised, x)
            for engine, (stack, arg) in runs.items():
                rates.setdefault(engine, {})[name] = \
                    flops / _best(lambda s=stack, a=arg: [layer(a) for layer in s], repeats) / 1e9
            del runs, quantised
            if ort_available():
                from languagebind.precision.onnx_export import gemm_session

                weights = [layer.weight.detach().t().contiguous().numpy() for layer in linears]
                feed = {f"x{i}": x.numpy() for i in range(copies)}
                for precision in ("fp32", "int8"):
                    session = gemm_session(weights, precision, Path(workdir), threads)
                    rates.setdefault(f"ort-{precision}", {})[name] = \
                        flops / _best(lambda s=session, f=feed: s.run(None, f), repeats) / 1e9
                    del session
    return rates


def attention_rates(shapes: list[tuple[int, int, int, int]], threads: int, native_bf16: bool, repeats: int = 3
                    ) -> dict[str, dict[str, float]]:
    """``{engine: {"attn:GxLxd": GFLOP/s}}``: QK^T and AV as batched matmuls (G capped at ``MAX_GROUPS``)."""
    import torch

    from languagebind.precision import ort_available

    torch.set_num_threads(threads)
    rates: dict[str, dict[str, float]] = {}
    gen = torch.Generator().manual_seed(0)
    with tempfile.TemporaryDirectory(prefix="lb-attn-") as workdir, torch.inference_mode():
        for g, n, d in sorted({(min(g, MAX_GROUPS), n, d) for g, n, d, _ in shapes}):
            name, flops = f"attn:{g}x{n}x{d}", 4.0 * g * n * n * d
            q, kt, v = (torch.randn(g, n, d, generator=gen), torch.randn(g, d, n, generator=gen),
                        torch.randn(g, n, d, generator=gen))
            probs = torch.softmax(torch.bmm(q, kt), dim=-1)
            dtypes = {"torch-fp32": torch.float32, **({"torch-bf16": torch.bfloat16} if native_bf16 else {})}
            for engine, dtype in dtypes.items():
                a, b, p, c = (t.to(dtype) for t in (q, kt, probs, v))
                rates.setdefault(engine, {})[name] = \
                    flops / _best(lambda a=a, b=b, p=p, c=c: (torch.bmm(a, b), torch.bmm(p, c)), repeats) / 1e9
            if ort_available():
                session = attention_session(Path(workdir), threads)
                feed = {"q": q.numpy(), "kt": kt.numpy(), "p": probs.numpy(), "v": v.numpy()}
                rates.setdefault("ort-fp32", {})[name] = \
                    flops / _best(lambda s=session, f=feed: s.run(None, f), repeats) / 1e9
    return rates


def attention_session(workdir: Path, threads: int) -> Any:
    """ONNX Runtime fp32 session of attention's two batched matmuls: ``s = q @ kt``, ``o = p @ v``."""
    import onnx
    from onnx import TensorProto, helper

    from languagebind.precision.ort import OPSET, OrtRunner

    names = {"q": ["g", "n", "d"], "kt": ["g", "d", "n"], "p": ["g", "n", "n"], "v": ["g", "n", "d"]}
    graph = helper.make_graph([helper.make_node("MatMul", ["q", "kt"], ["s"]), helper.make_node("MatMul", ["p", "v"],
                                                                                                ["o"])], "attention",
                              [helper.make_tensor_value_info(k, TensorProto.FLOAT, dims) for k, dims in names.items()],
                              [helper.make_tensor_value_info("s", TensorProto.FLOAT, ["g", "n", "n"]),
                               helper.make_tensor_value_info("o", TensorProto.FLOAT, ["g", "n", "d"])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    path = workdir / "attention.onnx"
    onnx.save(model, str(path))
    return OrtRunner(path, threads).session


def floor(shapes: dict[str, Any], rates: dict[str, dict[str, float]], engines: list[str]) -> dict[str, Any]:
    """Seconds of matmul work at the best rate among ``engines`` on each shape: Linear shapes, attention's batched
    matmuls (among the engines that compute attention; the widest Linear shape's rate for a report without
    attention rates) and the patch conv (the widest Linear shape's rate); the engine that set each best rate."""
    linear_s, best_engine = 0.0, {}
    for m, k, n, count in shapes["linear"]:
        name = f"{min(m, MAX_ROWS)}x{k}x{n}"
        engine = max(engines, key=lambda e: rates.get(e, {}).get(name, 0.0))
        best_engine[name] = engine
        linear_s += count * 2 * m * k * n / (rates[engine][name] * 1e9)
    widest = max(shapes["linear"], key=lambda s: s[1] * s[2])
    name = f"{min(widest[0], MAX_ROWS)}x{widest[1]}x{widest[2]}"
    top = max(rates.get(e, {}).get(name, 0.0) for e in engines)
    attention_s = 0.0
    for g, n, d, count in shapes.get("attention", []):
        name = f"attn:{min(g, MAX_GROUPS)}x{n}x{d}"
        have = [e for e in engines if name in rates.get(e, {})]
        if not have:
            attention_s += 4 * g * n * n * d * count / (top * 1e9)
            continue
        engine = max(have, key=lambda e: rates[e][name])
        best_engine[name] = engine
        attention_s += 4 * g * n * n * d * count / (rates[engine][name] * 1e9)
    if "attention" not in shapes:
        attention_s = shapes["attention_flops"] / (top * 1e9)
    conv_s = shapes["conv_flops"] / (top * 1e9)
    return {"seconds": linear_s + attention_s + conv_s, "linear_s": linear_s, "attention_s": attention_s,
            "conv_s": conv_s, "best_engine": best_engine, "work_gflop": work_flops(shapes) / 1e9}


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


def profile_session(model_path: Path, arg: Any, threads: int) -> dict[str, float]:
    """Seconds of one run of an ONNX Runtime engine's session (the ``ort-*`` modes) by category, from ONNX
    Runtime's own per-node profile (the same categories as ``profile_tower``; int8 MatMuls count as ``linear``,
    with the activations' quantisation they fuse, a separate ``DynamicQuantizeLinear`` as ``quantise``)."""
    import json

    from languagebind.precision.ort import OrtRunner

    with tempfile.TemporaryDirectory(prefix="lb-prof-") as workdir:
        runner = OrtRunner(model_path, threads, profile_prefix=str(Path(workdir) / "ort"))
        runner(arg)  # warm-up
        start = time.perf_counter()
        runner(arg)
        elapsed = time.perf_counter() - start
        events = json.loads(Path(runner.session.end_profiling()).read_text())
    runs = [e for e in events if e.get("name") == "model_run"]
    totals: dict[str, float] = {}
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time") and event["ts"] >= runs[-1]["ts"]:
            key = ORT_CATEGORIES.get(event["args"]["op_name"], "other")
            totals[key] = totals.get(key, 0.0) + event["dur"] / 1e6
    totals["outside nodes"] = max(elapsed - sum(totals.values()), 0.0)
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


ORT_CATEGORIES = {
    **dict.fromkeys(("MatMulIntegerToFloat", "DynamicQuantizeMatMul", "MatMulInteger", "Gemm", "FusedMatMul"),
                    "linear"),
    **dict.fromkeys(("MatMul", "Softmax", "MultiHeadAttention", "Attention"), "attention"),
    **dict.fromkeys(("Gelu", "BiasGelu", "FastGelu", "Erf"), "gelu"),
    **dict.fromkeys(("LayerNormalization", "SkipLayerNormalization"), "layernorm"),
    **dict.fromkeys(("Add", "Mul", "Div", "Sqrt", "Sub", "Pow", "ReduceMean"), "elementwise"),
    **dict.fromkeys(("Transpose", "Reshape", "Concat", "Gather", "Slice", "Cast", "Expand", "Unsqueeze", "Shape",
                     "ReorderInput", "ReorderOutput", "Where", "Equal"), "copies"),
    "DynamicQuantizeLinear": "quantise",
    "Conv": "conv",
}
CATEGORIES = (
    ("linear", ("addmm", "aten::mm", "aten::linear", "aten::matmul", "quantized::linear", "onednn::linear",
                "onednn::qlinear", "mkldnn_linear", "_weight_int8pack")),
    ("quantise", ("quantize_per_tensor", "aminmax", "dequantize")),
    ("attention", ("bmm", "softmax", "scaled_dot_product", "flash_attention", "baddbmm", "masked_fill")),
    ("gelu", ("gelu", "sigmoid")),
    ("layernorm", ("layer_norm",)),
    ("elementwise", ("aten::add", "aten::mul", "aten::div", "aten::mean")),
    ("copies", ("copy_", "clone", "contiguous", "aten::cat", "_to_copy", "aten::to", "empty", "fill_", "zero_",
                "aten::select", "index")),
    ("conv", ("conv",)),
)


def category(name: str) -> str:
    for key, needles in CATEGORIES:
        if any(needle in name for needle in needles):
            return key
    return "other"


def summarise_rates(rates: dict[str, dict[str, float]]) -> dict[str, float]:
    return {engine: float(np.max(list(by_shape.values()))) for engine, by_shape in rates.items()}
