"""Precision modes: agreement with fp32 on the tiny towers, the ``auto`` choice, int8 bookkeeping."""

from __future__ import annotations

import copy
import sys

import pytest
import torch
import torch.nn.functional as F

from languagebind import precision as prec
from languagebind.errors import InputError
from languagebind.model.core import LanguageBindModel, init_weights
from languagebind.model.presets import TINY_VISION, tiny_config
from languagebind.precision import auto, device, memory

MODALITIES = ("image", "video", "audio", "depth", "thermal")
BOUNDS = {"bf16": 0.999, "int8": 0.995, "fp16": 0.999}
CPU = torch.device("cpu")


def tiny_model(modality: str) -> LanguageBindModel:
    lora = 2 if modality in ("depth", "thermal") else 0  # as the released depth/thermal configs
    model = LanguageBindModel({modality: tiny_config(modality, lora_r=lora)})
    generator = torch.Generator().manual_seed(0)
    init_weights(model, generator)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("lora_B"):
                param.normal_(0, 0.05, generator=generator)
    return model.eval()


def tiny_inputs(modality: str, n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    shape = {"video": (n, 3, 4, 32, 32), "audio": (n, 3, 16, 96)}.get(modality, (n, 3, 32, 32))
    ids = torch.randint(1, 49406, (n, 12), generator=generator)
    ids[:, 0], ids[:, 8:] = 49406, 49407  # BOS ... EOS, then EOS padding as the CLIP tokenizer pads
    return torch.randn(shape, generator=generator), ids


def embed(model: LanguageBindModel, modality: str, pixels: torch.Tensor, ids: torch.Tensor) -> tuple:
    with torch.inference_mode():
        tower = model.encode_modality(modality, pixels.to(prec.input_dtype(model.towers[modality])))
        text = model.encode_text(ids, (torch.arange(12) <= 8).long().expand(len(ids), -1))  # mask ends at EOS
    return tower.float(), text.float()


@pytest.mark.parametrize("mode", ["bf16", "int8"])
@pytest.mark.parametrize("modality", MODALITIES)
def test_agreement_with_fp32_on_tiny_towers(modality: str, mode: str) -> None:
    model = tiny_model(modality)
    pixels, ids = tiny_inputs(modality)
    ref_tower, ref_text = embed(model, modality, pixels, ids)
    converted = copy.deepcopy(model)
    assert prec.apply_precision(converted, mode, CPU) == mode
    tower, text = embed(converted, modality, pixels, ids)
    assert F.cosine_similarity(tower, ref_tower).mean() >= BOUNDS[mode]
    assert F.cosine_similarity(text, ref_text).mean() >= BOUNDS[mode]
    assert converted.logit_scales[modality].dtype == torch.float32


def test_fp16_runs_on_cpu_too() -> None:  # a GPU mode; on the CPU it works, slowly
    model = tiny_model("image")
    pixels, ids = tiny_inputs("image")
    ref_tower, _ = embed(model, "image", pixels, ids)
    prec.apply_precision(model, "fp16", CPU)
    tower, _ = embed(model, "image", pixels, ids)
    assert F.cosine_similarity(tower, ref_tower).mean() >= BOUNDS["fp16"]


def test_bf16_casts_towers_but_not_logit_scales() -> None:
    model = tiny_model("image")
    prec.apply_precision(model, "bf16", CPU)
    assert prec.input_dtype(model.towers["image"]) == torch.bfloat16
    assert prec.input_dtype(model.text) == torch.bfloat16
    assert model.logit_scales["image"].dtype == torch.float32


def test_int8_quantises_the_modality_towers_only() -> None:
    model = tiny_model("image")
    prec.apply_precision(model, "int8", CPU)
    assert any(prec.is_int8_linear(m) for m in model.towers.modules())
    assert not any(prec.is_int8_linear(m) for m in model.text.modules())
    assert prec.input_dtype(model.text) == (torch.bfloat16 if prec.cpu_has_native_bf16() else torch.float32)


def test_int8_probe_simulates_the_quantised_tower() -> None:
    model = tiny_model("video")
    simulated = prec.int8_probe_cosine(model.towers["video"])
    assert 0.998 <= simulated < 1.0
    pixels = prec.probe_pixels(model.towers["video"].config, torch.Generator().manual_seed(0))
    with torch.inference_mode():
        reference = model.towers["video"](pixels)
        prec.quantize_int8(model.towers["video"])
        quantised = model.towers["video"](pixels)
    # exact for torch.ao's kernel; with oneDNN's on a bf16 CPU attention runs in bf16, which the simulation
    # approximates (its q/k/v rounded to bf16, attention itself in fp32)
    tolerance = 1e-4 if prec.int8_engine() == "qlinear" and prec.cpu_has_native_bf16() else 1e-6
    assert F.cosine_similarity(quantised, reference).mean().item() == pytest.approx(simulated, abs=tolerance)


def test_auto_falls_back_when_int8_would_disagree(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auto, "_TIMING_CACHE", {})
    monkeypatch.setattr(auto, "time_blocks", lambda probe, modes: {"fp32": 1.0, "bf16": 0.6, "int8": 0.3})
    monkeypatch.setattr(device, "cpu_has_native_bf16", lambda: True)
    monkeypatch.setattr(auto, "int8_probe_cosine", lambda tower: 0.98)  # outlier activations, as MiniLM has
    assert prec.apply_precision(tiny_model("image"), "auto", CPU) == "bf16"
    monkeypatch.setattr(device, "cpu_has_native_bf16", lambda: False)
    monkeypatch.setattr(auto, "_TIMING_CACHE", {})
    assert prec.apply_precision(tiny_model("image"), "auto", CPU) == "fp32"


def test_int8_merges_lora_and_keeps_float_state_dict() -> None:
    model = tiny_model("depth")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    prec.apply_precision(model, "int8", CPU)
    state = model.state_dict()
    assert not any("lora_" in k or "_packed_params" in k for k in state)
    assert all(v.is_floating_point() for v in state.values())
    q = "towers.depth.encoder.layers.0.self_attn.q_proj.weight"
    merged = before[q] + before[q.replace("weight", "lora_B")] @ before[q.replace("weight", "lora_A")] * 8.0
    assert torch.allclose(state[q], merged, atol=0.02)  # int8 round-off only
    assert torch.equal(state["towers.depth.projection.weight"], before["towers.depth.projection.weight"])


def test_unknown_precision_and_int8_off_cpu_are_rejected() -> None:
    model = tiny_model("image")
    with pytest.raises(InputError, match="unknown precision"):
        prec.apply_precision(model, "fp8", CPU)
    with pytest.raises(InputError, match="CPU only"):
        prec.apply_precision(model, "int8", torch.device("cuda"))


def test_pick_fastest_needs_a_clear_win_over_the_more_faithful_mode() -> None:
    order = ["fp32", "bf16", "int8"]
    assert prec.pick_fastest({"fp32": 1.0, "bf16": 0.95, "int8": 0.93}, order) == "fp32"
    assert prec.pick_fastest({"fp32": 1.0, "bf16": 0.5, "int8": 0.48}, order) == "bf16"
    assert prec.pick_fastest({"fp32": 1.0, "bf16": 0.5, "int8": 0.3}, order) == "int8"
    assert prec.pick_fastest({"fp32": 1.0, "bf16": 8.0, "int8": 2.0}, order) == "fp32"


def test_bf16_is_never_a_candidate_without_native_support(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device, "cpu_has_native_bf16", lambda: False)
    assert "bf16" not in prec.native_precisions(CPU)
    assert prec.native_precisions(CPU)[0] == "fp32"


def test_auto_picks_a_measured_native_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auto, "_TIMING_CACHE", {})
    timed: list[str] = []

    def fake_time(probe: tuple, modes: list[str]) -> dict[str, float]:
        timed.extend(modes)
        return {"fp32": 1.0, "bf16": 0.4, "int8": 0.38}  # int8 not clearly faster than bf16

    monkeypatch.setattr(auto, "time_blocks", fake_time)
    monkeypatch.setattr(device, "cpu_has_native_bf16", lambda: True)
    model = tiny_model("image")
    assert prec.apply_precision(model, "auto", CPU) == "bf16"
    assert prec.input_dtype(model.towers["image"]) == torch.bfloat16
    assert prec.probe_config(model) == (TINY_VISION, 17)  # the widest tower: 4x4 patches + CLS
    prec.apply_precision(tiny_model("image"), "auto", CPU)
    assert sorted(timed) == sorted(prec.native_precisions(CPU))  # measured once per process and block shape


def test_time_blocks_runs_every_native_mode() -> None:
    modes = prec.native_precisions(CPU)
    timings = prec.time_blocks((TINY_VISION, 17), modes, rounds=1)
    assert set(timings) == set(modes) and all(t > 0 for t in timings.values())


def test_allocator_tuning_is_opt_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_allocator_tuned", False)
    monkeypatch.setenv("LANGUAGEBIND_MALLOC_TUNING", "0")
    assert prec.tune_cpu_allocator() is False
    monkeypatch.delenv("LANGUAGEBIND_MALLOC_TUNING")
    tuned = prec.tune_cpu_allocator()
    assert tuned is (sys.platform.startswith("linux") and sys.implementation.name == "cpython")  # glibc here
    assert prec.hardware_summary()["malloc_tuned"] is memory._allocator_tuned
