"""What keeps ``precision="auto"``'s peak memory at or below the official run's (docs/performance.md, "Peak
memory"): the timing probes run in a child process and finding onnx / onnxruntime does not import them (nothing
of theirs stays under the model being built); the language tower is cast before the int8 probe when every
outcome casts it alike, after the engine's key was taken on the fp32 weights; the fingerprint hashes the tensors'
own buffers (the key is what it was)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from languagebind import precision as prec
from languagebind.api import LanguageBind
from languagebind.model.core import checkpoint_view
from languagebind.model.presets import tiny_config
from languagebind.precision import auto, cast, device, ort
from languagebind.pretrained import PREPROCESSING_VERSION
from tests.precision.test_precision import tiny_model

CPU = torch.device("cpu")
SRC = Path(__file__).resolve().parents[2] / "src"

TIMING_IN_A_FRESH_PROCESS = """
import json, sys, torch
from languagebind import precision as prec
from languagebind.model.presets import TINY_VISION
modes = prec.native_precisions(torch.device("cpu"))
timings = prec.time_blocks((TINY_VISION, 17), modes, rounds=1)
print(json.dumps({"modes": modes, "timed": sorted(timings),
                  "loaded": sorted(m for m in ("onnx", "onnxruntime", "torch.onnx") if m in sys.modules)}))
"""


def test_timing_probes_load_nothing_into_the_caller() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", TIMING_IN_A_FRESH_PROCESS], capture_output=True, text=True,
                          env=env, check=True)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["timed"] == sorted(out["modes"])  # every candidate was timed, the ONNX Runtime ones included
    assert out["loaded"] == []  # ... in the child: the exporter and the runtime never entered this process
    assert "auto times its candidate modes in this process" not in proc.stderr  # no in-process fallback


def test_a_failed_timing_process_falls_back_to_timing_here(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    def dead_child(module: str, spec: dict) -> None:
        raise auto.ChildError("killed")

    monkeypatch.setattr(auto, "run_child", dead_child)
    timings = prec.time_blocks((prec.widest([tiny_config("image").vision])), ["fp32"], rounds=1)
    assert set(timings) == {"fp32"} and timings["fp32"] > 0
    assert capsys.readouterr().err.count("timing process failed: killed") == 1


def force_native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device, "cpu_has_native_bf16", lambda: True)
    monkeypatch.setattr(cast, "cpu_has_native_bf16", lambda: True)


# int8's fallback is bf16 (the language tower ends in bf16 either way) / fp32 (it ends as the probe decides)
BF16_FALLBACK = {"fp32": 1.0, "ort-fp32": 1.0, "bf16": 0.5, "int8": 0.4, "ort-int8": 0.2}
FP32_FALLBACK = {"fp32": 1.0, "ort-fp32": 1.0, "bf16": 2.0, "int8": 0.4, "ort-int8": 0.2}


@pytest.mark.parametrize(("timings", "cast_first"), [(BF16_FALLBACK, True), (FP32_FALLBACK, False)])
@pytest.mark.parametrize("faithful", [True, False])
def test_the_language_tower_is_cast_before_the_int8_probe_only_when_every_outcome_casts_it(
        monkeypatch: pytest.MonkeyPatch, timings: dict[str, float], cast_first: bool, faithful: bool) -> None:
    force_native_bf16(monkeypatch)
    monkeypatch.setattr(auto, "_TIMING_CACHE", {})
    monkeypatch.setattr(auto, "time_blocks", lambda probe, modes: {m: timings[m] for m in modes})
    model = tiny_model("image")
    seen: dict[str, torch.dtype] = {}

    def probe(tower: torch.nn.Module) -> float:
        seen["probe"] = prec.input_dtype(model.text)
        return 0.9999 if faithful else 0.98

    def fingerprint(modality: str) -> str:
        seen["fingerprint"] = prec.input_dtype(model.text)
        return "key"

    monkeypatch.setattr(auto, "int8_probe_cosine", probe)
    chosen = prec.auto_precision(model, CPU, fingerprint)
    ort_modes = ort.ort_available()
    assert chosen == (("ort-int8" if ort_modes else "int8") if faithful else "bf16" if cast_first else "fp32")
    assert seen["probe"] == (torch.bfloat16 if cast_first else torch.float32)
    if cast_first and ort_modes:  # the engine's key is taken on the fp32 weights, before the cast
        assert seen["fingerprint"] == torch.float32
    assert prec.input_dtype(model.towers["image"]) == torch.float32  # the modality tower is the probe's to judge


@pytest.mark.skipif(not ort.ort_available(), reason="onnxruntime is not installed")
def test_auto_on_the_engine_keys_it_on_the_fp32_weights(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LANGUAGEBIND_ENGINE_CACHE", str(tmp_path))
    force_native_bf16(monkeypatch)
    monkeypatch.setattr(auto, "_TIMING_CACHE", {})
    monkeypatch.setattr(auto, "time_blocks", lambda probe, modes: {m: BF16_FALLBACK[m] for m in modes})
    reference = LanguageBind.from_config({"image": tiny_config("image")}, precision="fp32", seed=5)
    model = LanguageBind.from_config({"image": tiny_config("image")}, precision="auto", seed=5)
    assert model.precision == "ort-int8" and prec.input_dtype(model.model.text) == torch.bfloat16
    key = reference.checkpoint_fingerprint("image")
    assert model.checkpoint_fingerprint("image") == key
    assert Path(model.tower("image").engine["directory"]).parent == tmp_path / key
    if Path("/proc/self/maps").is_file():  # the torch tower's weights live in the mapped cache file, not beside
        mapped = file_mappings(tmp_path / key / "weights.pt")  # the session in memory of their own
        assert mapped and all(any(start <= p.data_ptr() < end for start, end in mapped)
                              for p in model.tower("image").parameters())


def file_mappings(path: Path) -> list[tuple[int, int]]:
    """Address ranges of this process mapped from ``path`` (/proc/self/maps)."""
    target, ranges = os.path.realpath(path), []
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5] == target:
            start, end = (int(x, 16) for x in fields[0].split("-"))
            ranges.append((start, end))
    return ranges


def test_fingerprint_is_the_hash_of_the_fp32_bytes() -> None:
    """Hashing the buffers in place gives the key the ``tobytes`` copies gave, so existing engine caches stay."""
    model = LanguageBind.from_config({"image": tiny_config("image")}, precision="fp32", seed=7)
    digest = hashlib.sha256(PREPROCESSING_VERSION.encode())
    digest.update(json.dumps(model.model.configs["image"].to_dict(), sort_keys=True, default=str).encode())
    for key, value in sorted(checkpoint_view(model.model, "image").state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().float().contiguous().numpy().tobytes())
    assert model.checkpoint_fingerprint("image") == digest.hexdigest()[:32]


def test_the_language_tower_is_cast_largest_tensor_last_after_handing_back_the_rest(
        monkeypatch: pytest.MonkeyPatch) -> None:
    model = tiny_model("image")
    expected = {k: v.to(torch.bfloat16) for k, v in model.text.state_dict().items()}
    largest = max(model.text.parameters(), key=lambda p: p.numel())
    monkeypatch.setattr(cast, "LARGE_COPY", largest.numel() * 2)  # only the largest copy counts as large here
    calls: list[tuple[torch.dtype, set[torch.dtype]]] = []

    def release() -> None:
        calls.append((largest.dtype, {p.dtype for p in model.text.parameters() if p is not largest}))

    monkeypatch.setattr(cast, "release_free_memory", release)
    cast.cast_language_towers(model, torch.bfloat16)
    # pages handed back just before the largest copy, when every other tensor is already converted (and after
    # each language module)
    assert calls[0] == (torch.float32, {torch.bfloat16})
    assert calls[1:] and all(c == (torch.bfloat16, {torch.bfloat16}) for c in calls[1:])
    state = model.text.state_dict()
    assert all(state[k].dtype == v.dtype and torch.equal(state[k], v) for k, v in expected.items())  # as .to()
    assert prec.input_dtype(model.towers["image"]) == torch.float32 and model.logit_scales["image"].dtype == \
        torch.float32
