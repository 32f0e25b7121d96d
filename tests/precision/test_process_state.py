"""Nothing process-wide changes behind the caller's back: building or using a model never tunes the allocator (the
CLI opts in), and the int8 engine is set only while layers are quantised."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest
import torch

from languagebind import precision as prec
from languagebind.api import LanguageBind
from languagebind.cli import main as cli_main
from languagebind.model.presets import tiny_config
from languagebind.precision import memory


class FakeLibc:
    """Stands in for glibc: records ``mallopt`` calls (the real one cannot be undone)."""

    def __init__(self) -> None:
        self.mallopt_calls: list[tuple[int, int]] = []

    def mallopt(self, param: int, value: int) -> int:
        self.mallopt_calls.append((param, value))
        return 1

    def malloc_trim(self, _pad: int) -> int:
        return 1


@pytest.fixture()
def libc(monkeypatch: pytest.MonkeyPatch) -> FakeLibc:
    fake = FakeLibc()
    monkeypatch.setattr(memory, "_libc", lambda: fake)
    monkeypatch.setattr(memory, "_allocator_tuned", False)
    monkeypatch.delenv("LANGUAGEBIND_MALLOC_TUNING", raising=False)
    return fake


@pytest.mark.parametrize("precision", ["fp32", "bf16", "int8", "auto"])
def test_building_and_encoding_do_not_tune_the_allocator(libc: FakeLibc, precision: str) -> None:
    model = LanguageBind.from_config(tiny_config("image"), precision=precision, device="cpu")
    model.encode("image", torch.randn(2, 3, 32, 32))
    model.encode("text", ["a photo of a dog"])
    assert libc.mallopt_calls == []
    assert memory.allocator_tuned() is False and prec.hardware_summary()["malloc_tuned"] is False


def fake_command(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A sub-command that records whether the allocator was tuned when it ran."""
    seen: dict[str, Any] = {}
    module = types.ModuleType("languagebind_test_fake_command")
    module.add_arguments = lambda parser: None  # type: ignore[attr-defined]

    def run(_args: object) -> int:
        seen["tuned"] = memory.allocator_tuned()
        return 0

    module.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(cli_main, "COMMANDS", {"fake": (module.__name__, "records the allocator state")})
    return seen


def test_the_cli_opts_in_before_running_a_command(libc: FakeLibc, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = fake_command(monkeypatch)
    assert cli_main.main(["fake"]) == 0
    assert seen["tuned"] is True
    assert sorted(libc.mallopt_calls) == [(memory._M_MMAP_MAX, 0), (memory._M_TRIM_THRESHOLD, 2**31 - 1)]


def test_the_cli_respects_malloc_tuning_off(libc: FakeLibc, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = fake_command(monkeypatch)
    monkeypatch.setenv("LANGUAGEBIND_MALLOC_TUNING", "0")
    assert cli_main.main(["fake"]) == 0
    assert seen["tuned"] is False and libc.mallopt_calls == []


def other_engine() -> str:
    """A supported quantised engine other than the one int8 packs for."""
    others = [e for e in torch.backends.quantized.supported_engines if e not in (prec.int8_engine(), "none")]
    if not others:
        pytest.skip("this torch build has a single quantised engine")
    return others[0]


def test_int8_sets_the_engine_only_while_quantising() -> None:
    before = torch.backends.quantized.engine
    tower = LanguageBind.from_config(tiny_config("image"), device="cpu").model.towers["image"]
    pixels = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    try:
        torch.backends.quantized.engine = other_engine()
        previous = torch.backends.quantized.engine
        assert prec.quantize_int8(tower) > 0
        assert torch.backends.quantized.engine == previous  # restored
        with torch.inference_mode():
            restored = tower(pixels)
            if prec.int8_engine() != "qlinear":  # oneDNN's int8 matmul has no engine to set
                torch.backends.quantized.engine = prec.int8_engine()  # the engine the layers were packed for
            packed_for = tower(pixels)
    finally:
        torch.backends.quantized.engine = before
    assert torch.equal(restored, packed_for)  # packed layers keep their kernels: the engine need not stay set


def test_quantised_engine_restores_on_error() -> None:
    before = torch.backends.quantized.engine
    with pytest.raises(RuntimeError), prec.quantised_engine(other_engine()) as engine:
        assert torch.backends.quantized.engine == engine
        raise RuntimeError("boom")
    assert torch.backends.quantized.engine == before


def test_apply_precision_leaves_the_engine_alone() -> None:
    before = torch.backends.quantized.engine
    try:
        torch.backends.quantized.engine = other_engine()
        LanguageBind.from_config(tiny_config("image"), precision="int8", device="cpu")
        assert torch.backends.quantized.engine != prec.int8_engine()
    finally:
        torch.backends.quantized.engine = before
