"""benchmarks/cpuid_avx2.c: under ``--emulate avx2`` every library in the child sees an AVX2-only CPU."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load_encode_script() -> object:
    spec = importlib.util.spec_from_file_location("bench_encode", BENCHMARKS / "encode.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return set(next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), []))


needs_cpuid_faulting = pytest.mark.skipif(
    "cpuid_fault" not in cpu_flags() or shutil.which("gcc") is None or not sys.platform.startswith("linux"),
    reason="cpuid faulting (Linux, CPU flag cpuid_fault) and gcc are needed to mask cpuid")

CHECK = """
import ctypes, json, sys
import numpy as np, onnxruntime as ort, torch
from onnx import TensorProto, helper
rng = np.random.default_rng(0)
a = rng.integers(0, 256, (64, 128), dtype=np.uint8)
weights = {"s8": rng.integers(-128, 128, (128, 32), dtype=np.int8),
           "u8": rng.integers(0, 256, (128, 32), dtype=np.uint8)}
exact = {}
for name, b in weights.items():
    kind = TensorProto.INT8 if b.dtype == np.int8 else TensorProto.UINT8
    graph = helper.make_graph([helper.make_node("MatMulInteger", ["a", "b"], ["y"])], "g",
                              [helper.make_tensor_value_info("a", TensorProto.UINT8, a.shape),
                               helper.make_tensor_value_info("b", kind, b.shape)],
                              [helper.make_tensor_value_info("y", TensorProto.INT32, (64, 32))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    y = session.run(None, {"a": a, "b": b})[0]
    exact[name] = bool((y == a.astype(np.int32) @ b.astype(np.int32)).all())
print(json.dumps({"capability": torch.backends.cpu.get_cpu_capability(), "vnni": torch.cpu._is_vnni_supported(),
                  "amx": torch.cpu._is_amx_tile_supported(), "bf16": torch.cpu._is_avx512_bf16_supported(),
                  "exact": exact}))
if len(sys.argv) > 1:
    ctypes.string_at(0)  # a real segmentation fault must still end the process
"""


def run_check(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CHECK, *args], env={**os.environ, **env}, capture_output=True,
                          text=True)


@needs_cpuid_faulting
def test_cpuid_mask_reports_an_avx2_only_cpu_to_every_library() -> None:
    encode = load_encode_script()
    preload, why = encode.build_cpuid_mask()
    assert preload is not None, why
    env = encode.emulation_env("avx2")
    assert env["LD_PRELOAD"].split(":")[0] == str(preload)
    masked = run_check(env)
    assert masked.returncode == 0, masked.stderr[-1000:]
    report = json.loads(masked.stdout.splitlines()[-1])
    assert {k: report[k] for k in ("capability", "vnni", "amx", "bf16")} == \
        {"capability": "AVX2", "vnni": False, "amx": False, "bf16": False}
    # ONNX Runtime's MLAS took its AVX2 int8 kernels too: u8 x s8 pairs saturate there (vpmaddubsw's 16-bit sums,
    # why ort-int8 uses u8 weights without VNNI), u8 x u8 is exact
    assert report["exact"] == {"s8": False, "u8": True}
    if torch.cpu._is_vnni_supported():  # the same process unmasked: VNNI's u8 x s8 is exact
        assert json.loads(run_check({}).stdout.splitlines()[-1])["exact"]["s8"] is True
    crash = run_check({"LD_PRELOAD": str(preload)}, "crash")
    assert crash.returncode == -11, crash.stderr[-500:]  # SIGSEGV, not swallowed by the cpuid handler

def test_without_the_mask_only_the_switches_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    encode = load_encode_script()
    monkeypatch.setattr(encode, "build_cpuid_mask", lambda: (None, "no cpuid faulting"))
    env = encode.emulation_env("avx2")
    assert "LD_PRELOAD" not in env
    assert env["ATEN_CPU_CAPABILITY"] == "avx2" and env["LANGUAGEBIND_INT8_ENGINE"] == "x86"
    assert encode.emulation_env(None) == {}
