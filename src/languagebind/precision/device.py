"""Which device to run on and which precisions its hardware computes natively."""

from __future__ import annotations

import torch

from languagebind.errors import InputError
from languagebind.precision.int8 import int8_engine
from languagebind.precision.memory import allocator_tuned
from languagebind.precision.ort import int8_weight_type, ort_available


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


def native_precisions(device: torch.device) -> list[str]:
    """Modes the hardware runs natively, most faithful first (``auto`` chooses among these)."""
    if device.type == "cuda":
        return ["fp32", "bf16" if torch.cuda.is_bf16_supported() else "fp16"]
    if device.type != "cpu":
        return ["fp32"]
    ort = ort_available()
    return (["fp32"] + (["ort-fp32"] if ort else []) + (["bf16"] if cpu_has_native_bf16() else [])
            + (["int8"] if int8_supported() else []) + (["ort-int8"] if ort else []))


def hardware_summary() -> dict[str, object]:
    """What the precision choice depends on (for benchmark reports and logs)."""
    return {"cpu_capability": torch.backends.cpu.get_cpu_capability(), "cpu_native_bf16": cpu_has_native_bf16(),
            "int8_engine": int8_engine(), "onnxruntime": ort_available(),
            "ort_int8_weights": int8_weight_type() if ort_available() else None,
            "threads": torch.get_num_threads(), "malloc_tuned": allocator_tuned(),
            "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None}
