"""``auto``: the fastest mode the hardware runs natively that stays faithful, chosen by timing.

On the CPU it times a stack of ``PROBE_LAYERS`` transformer blocks shaped like the model's widest tower in each
native mode, in a child process (once per process, device, block shape and thread count: ``_TIMING_CACHE``); a mode
replaces a more faithful one only when it is ``MIN_SPEEDUP`` faster, so ``auto`` is never slower than fp32. Before
choosing int8 it simulates the quantised towers on a synthetic probe and keeps int8 only if their output stays
within ``INT8_MIN_PROBE_COSINE`` of fp32. Memory: nothing of the timing stays in the caller, and the language tower
is cast before the probe when every outcome casts it alike, so building with ``auto`` peaks no higher than fp32.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

import torch
from torch import nn

from languagebind.errors import ConfigError
from languagebind.model.config import TransformerConfig, VisionConfig
from languagebind.model.transformer import Block
from languagebind.precision.cast import cast_language_towers, convert, input_dtype, language_dtype
from languagebind.precision.child import ChildError, run_child
from languagebind.precision.device import native_precisions
from languagebind.precision.int8 import int8_output_hook, int8_targets
from languagebind.precision.memory import allocator_tuned, release_free_memory, tune_cpu_allocator
from languagebind.precision.onnx_export import block_runner
from languagebind.precision.ort import ORT_PRECISIONS, int8_weight_type, notice
from languagebind.registry import PATCHES, get_modality

# Agreement order: a faster mode must beat the next more accurate one by this factor to be chosen.
MIN_SPEEDUP = 1.10
# ... except a mode with the same numerics (ONNX Runtime fp32 after torch fp32): any clear gain is taken.
SAME_NUMERICS_SPEEDUP = 1.03
SAME_NUMERICS = {"ort-fp32"}
INT8_MODES = ("int8", "ort-int8")
# auto keeps int8 only if the simulated int8 towers give at least this cosine to fp32 on a synthetic probe
# (the agreement bound is 0.995 on real inputs; random ViT-L/14 towers give ~0.999, MiniLM-like outliers ~0.98).
INT8_MIN_PROBE_COSINE = 0.998
PROBE_LAYERS = 4  # blocks per timed forward (see measure_blocks)
# The one cache of the package: (device type, block shape, threads, candidate modes) -> seconds per mode.
_TIMING_CACHE: dict[tuple, dict[str, float]] = {}
_RESULT = "TIMINGS "  # the timing child's result line on stdout


def auto_precision(model: nn.Module, device: torch.device, fingerprint: Callable[[str], object] | None = None
                   ) -> str:
    """The fastest native mode for ``model`` (timed on a block of its shape); int8 only if it stays faithful.

    ``fingerprint(modality)`` (the ONNX Runtime cache key, which the caller keeps) is taken for every tower before
    anything is converted when the choice may be an ONNX Runtime mode."""
    candidates = native_precisions(device)
    if device.type == "cuda":  # GPUs compute half precision natively: no need to time
        return candidates[-1]
    timings = mode_timings(probe_config(model), device, candidates)
    candidates = [mode for mode in candidates if mode in timings]
    chosen = pick_fastest(timings, candidates)
    towers = getattr(model, "towers", None)
    if chosen not in INT8_MODES or towers is None:
        return chosen
    fallback = pick_fastest(timings, [mode for mode in candidates if mode not in INT8_MODES])
    final = language_dtype(ORT_PRECISIONS.get(chosen, chosen))
    if final == language_dtype(ORT_PRECISIONS.get(fallback, fallback)):
        # The language tower ends in this dtype whatever the probe decides (it only runs the modality towers):
        # cast it first, so the probe's forward passes run beside the model as it will be (a bf16 CLIP-L text
        # tower holds 250 MB less), not beside a whole fp32 model. The engine's key is of the fp32 weights.
        if fingerprint is not None and {chosen, fallback} & set(ORT_PRECISIONS):
            for modality in towers:
                fingerprint(modality)
        cast_language_towers(model, final)
    if any(int8_probe_cosine(t) < INT8_MIN_PROBE_COSINE for t in towers.values()):
        chosen = fallback
    return chosen


def prepare_auto(visions: Iterable[VisionConfig], device: torch.device) -> None:
    """Time ``auto``'s candidate modes for these towers' shape now, before their weights are in memory, so the
    probe blocks never sit on top of a loaded model (``apply_precision`` then reuses the timings)."""
    if device.type == "cpu":
        mode_timings(widest(visions), device, native_precisions(device))


def mode_timings(probe: tuple[TransformerConfig, int], device: torch.device, candidates: list[str]
                 ) -> dict[str, float]:
    """``time_blocks`` of ``probe`` in ``candidates``, measured once per process and key (``_TIMING_CACHE``)."""
    key = (device.type, probe, torch.get_num_threads(), tuple(candidates))
    if key not in _TIMING_CACHE:
        _TIMING_CACHE[key] = time_blocks(probe, candidates)
        release_free_memory()
    return _TIMING_CACHE[key]


def pick_fastest(timings: dict[str, float], order: list[str]) -> str:
    """Walk from the most faithful mode; move to a less faithful one only when it is ``MIN_SPEEDUP`` faster."""
    chosen = order[0]
    for mode in order[1:]:
        if timings[mode] * (SAME_NUMERICS_SPEEDUP if mode in SAME_NUMERICS else MIN_SPEEDUP) <= timings[chosen]:
            chosen = mode
    return chosen


def time_blocks(probe: tuple[TransformerConfig, int], modes: list[str], rounds: int = 5) -> dict[str, float]:
    """Seconds per block of a forward through random blocks (batch 2) in each mode on the CPU (``measure_blocks``),
    measured in a child process with this process's thread count, int8 weight type and allocator setting: the probe
    blocks, their ONNX graphs and sessions and the libraries these load (onnx, onnxruntime, the exporter; ~100 MB
    that the heap and the loaded code would keep) then never sit in this process under the model it builds.
    Measured here, with a one-line notice, if the child fails."""
    cfg, tokens = probe
    spec = {"transformer": dataclasses.asdict(cfg), "tokens": tokens, "modes": list(modes), "rounds": rounds,
            "threads": torch.get_num_threads(), "weight_type": int8_weight_type(), "malloc_tuned": allocator_tuned()}
    try:
        out = run_child("languagebind.precision.auto", spec).stdout.splitlines()
        found = [line[len(_RESULT):] for line in out if line.startswith(_RESULT)]
        if not found:
            raise ChildError("it printed no timings")
        return {mode: float(seconds) for mode, seconds in json.loads(found[-1]).items()}
    except (ChildError, ValueError) as err:
        notice(f"auto times its candidate modes in this process (the timing process failed: {err})")
        return measure_blocks(probe, modes, rounds)


def measure_blocks(probe: tuple[TransformerConfig, int], modes: list[str], rounds: int = 5,
                   weight_type: str | None = None) -> dict[str, float]:
    """Seconds per block of a forward through ``PROBE_LAYERS`` random blocks (batch 2) in each mode, in this
    process: the best of ``rounds`` interleaved rounds (mode after mode), so load from other processes hits every
    mode alike. ONNX Runtime modes run the blocks exported to a temporary directory (int8 with ``weight_type``,
    default the CPU's).

    Several blocks, not one: each call has a fixed cost (ONNX Runtime's session run with its input and output
    copies: ~5 ms on a ViT-L block here, torch's ~2.5 ms) that a whole tower pays once for all its layers. Timed
    on one ViT-L block, ONNX Runtime int8 and torch int8 tied (17.8-20.1 against 17.6-19.4 ms) while on the
    24-layer image tower ONNX Runtime was 1.21x faster."""
    cfg, tokens = probe
    x = torch.randn(2, tokens, cfg.width, generator=torch.Generator().manual_seed(0))
    runs: dict[str, Callable[[], object]] = {}
    with tempfile.TemporaryDirectory(prefix="lb-auto-") as workdir:
        for mode in modes:
            block = nn.Sequential(*(Block(cfg) for _ in range(PROBE_LAYERS))).eval()
            if mode in ORT_PRECISIONS:
                try:
                    runner = block_runner(block, x, ORT_PRECISIONS[mode], Path(workdir), weight_type)
                    runs[mode] = partial(runner, x)
                except Exception as err:  # the runtime cannot run this block: not a candidate
                    notice(f"auto does not consider {mode}: {err.__class__.__name__}: {err}")
                continue
            convert(block, mode)
            runs[mode] = partial(block, x.to(input_dtype(block)))
        return {mode: seconds / PROBE_LAYERS for mode, seconds in _best_of(runs, rounds).items()}


def _best_of(runs: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    best = dict.fromkeys(runs, float("inf"))
    with torch.inference_mode():
        for run in runs.values():
            run()  # warm-up: kernel selection, weight packing
        for _ in range(rounds):
            for mode, run in runs.items():
                start = time.perf_counter()
                run()
                best[mode] = min(best[mode], time.perf_counter() - start)
    return best


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


def int8_probe_cosine(tower: nn.Module, seed: int = 0) -> float:
    """Mean cosine between a modality tower's fp32 output and its simulated int8 output on a synthetic probe.

    The simulation runs the fp32 tower with every target Linear's output replaced by its dynamically quantised
    counterpart's (one layer quantised at a time, so no second copy of the weights is held).
    """
    pixels = probe_pixels(tower.config, torch.Generator().manual_seed(seed)).to(input_dtype(tower))
    with torch.inference_mode():
        reference = tower(pixels).float()
        hooks = [tower.get_submodule(name).register_forward_hook(int8_output_hook(name))
                 for name in int8_targets(tower)]
        try:
            simulated = tower(pixels).float()
        finally:
            for hook in hooks:
                hook.remove()
    cosine = float(torch.nn.functional.cosine_similarity(simulated, reference).mean())
    del reference, simulated
    release_free_memory()  # the quantised layer copies made along the way
    return cosine


def probe_pixels(cfg: VisionConfig, generator: torch.Generator, batch: int = 2) -> torch.Tensor:
    """Normalised-pixel noise in a tower's input geometry (clips: 2 frames, or all when frames are tubed); a
    modality with its own token module gives its input shape by the module's ``input_shape(cfg)``."""
    spec = get_modality(cfg.modality)
    if spec.tokens != PATCHES:
        shape = getattr(spec.resolve("tokens"), "input_shape", None)
        if shape is None:
            raise ConfigError(f"precision 'auto' cannot probe a {cfg.modality} tower: its token module has no "
                              f"input_shape(cfg); choose a precision")
        return torch.randn(batch, *shape(cfg), generator=generator)
    frames = (cfg.num_frames if cfg.tube_size > 1 else min(cfg.num_frames, 2),) if spec.clip else ()
    return torch.randn(batch, cfg.num_channels, *frames, *cfg.image_size, generator=generator)


def timing_child(spec: dict) -> None:
    """The child process of ``time_blocks``: set up as the parent is, measure, print the result line."""
    torch.set_num_threads(int(spec["threads"]))
    if spec["malloc_tuned"]:  # this process's own heap, tuned as the parent's is so the timings are its timings
        tune_cpu_allocator()
    probe = (TransformerConfig(**spec["transformer"]), int(spec["tokens"]))
    timings = measure_blocks(probe, spec["modes"], int(spec["rounds"]), spec["weight_type"])
    print(_RESULT + json.dumps(timings), flush=True)


if __name__ == "__main__":
    timing_child(json.loads(sys.argv[1]))
