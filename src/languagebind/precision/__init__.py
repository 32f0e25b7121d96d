"""Device and numeric precision for inference, one module per job.

* ``fp32`` (default) is faithful to the official numerics.
* ``bf16`` / ``fp16`` cast the towers' weights; fast only where the hardware computes them natively (CUDA, or
  CPUs with AVX-512 BF16 / AMX). On AVX2-only CPUs bf16 is several times SLOWER than fp32.
* ``int8`` replaces the modality towers' transformer Linear layers by dynamically quantised ones (int8 weights
  with per-channel scales, activations quantised per call; CPU only): oneDNN's int8 matmul where the CPU has AMX
  or AVX-512 VNNI (attention then in bf16 where bf16 is native), torch.ao's fbgemm elsewhere. The projections,
  embeddings and norms stay fp32. The language tower is not quantised: pretrained text encoders have
  outlier activation channels that per-tensor activation quantisation cannot represent (MiniLM: cosine 0.98 to
  fp32); it runs in bf16 where the CPU has native bf16, else fp32.
* ``auto`` picks, for the device it runs on, the fastest of the modes the hardware supports natively, by timing
  a few transformer blocks shaped like the model's widest tower in each (once per process and block shape); a
  mode replaces fp32 only when it is clearly faster, so ``auto`` is never slower than fp32. Before choosing int8 it
  simulates the quantised towers on a synthetic probe and keeps int8 only if their output stays within
  ``INT8_MIN_PROBE_COSINE`` of fp32 (real checkpoints with outlier activations fall back to bf16 or fp32).

The logit scales always stay float32; ``LanguageBind`` returns float32 embeddings in every mode.

Modules: ``device`` (device and native modes), ``cast`` (conversion to a concrete mode, float dtypes), ``packed``
(bf16 Linear weights packed once for oneDNN on CPUs with native bf16), ``int8``
(dynamic quantisation and its kernels), ``ort`` (the ONNX Runtime engine: ``ort-fp32`` / ``ort-int8``, export cache,
fallback to torch), ``onnx_export`` (building its ONNX graphs), ``auto`` (timing and choice), ``child`` (the export
and the timing run in a child process, so their memory never reaches the caller), ``memory`` (glibc heap: opt-in
allocator tuning for programs, returning free pages), ``apply`` (``apply_precision``, the entry point). Building or
using a model changes nothing process-wide: ``tune_cpu_allocator`` is for programs to call (the CLI and benchmarks
do).
"""

from languagebind.precision.apply import PRECISIONS, apply_precision
from languagebind.precision.auto import (
    INT8_MIN_PROBE_COSINE,
    MIN_SPEEDUP,
    auto_precision,
    int8_probe_cosine,
    pick_fastest,
    prepare_auto,
    probe_config,
    probe_pixels,
    time_blocks,
    widest,
)
from languagebind.precision.cast import FLOAT_DTYPES, convert, float32_features, input_dtype
from languagebind.precision.device import (
    cpu_has_native_bf16,
    hardware_summary,
    int8_supported,
    native_precisions,
    resolve_device,
)
from languagebind.precision.int8 import (
    Int8Linear,
    dynamic_int8,
    int8_engine,
    int8_targets,
    is_int8_linear,
    quantised_engine,
    quantize_int8,
)
from languagebind.precision.memory import allocator_tuned, release_free_memory, tune_cpu_allocator
from languagebind.precision.ort import ORT_PRECISIONS, engine_cache_dir, ort_available

__all__ = [
    "FLOAT_DTYPES", "INT8_MIN_PROBE_COSINE", "MIN_SPEEDUP", "ORT_PRECISIONS", "PRECISIONS", "Int8Linear",
    "allocator_tuned", "apply_precision", "auto_precision", "convert", "cpu_has_native_bf16", "dynamic_int8",
    "engine_cache_dir", "float32_features", "hardware_summary", "input_dtype", "int8_engine", "int8_probe_cosine",
    "int8_supported", "int8_targets", "is_int8_linear", "native_precisions", "ort_available", "pick_fastest",
    "prepare_auto", "probe_config", "probe_pixels", "quantised_engine", "quantize_int8", "release_free_memory",
    "resolve_device", "time_blocks", "tune_cpu_allocator", "widest",
]
