"""Inference speed of full-size LanguageBind towers, ours in every precision beside the official-style fp32 baseline.

    python benchmarks/encode.py                                   # everything (video at batch 8 is slow on 2 cores)
    python benchmarks/encode.py --modalities image,text --batches 1,8 --repeats 2
    python benchmarks/encode.py --runners official,fp32,auto --modalities video --batches 8 --repeats 1

Towers are built from tests/fixtures/released-configs/ (``$LANGUAGEBIND_SHARED/reference/released-configs/`` when
that variable is set) with random weights (``--tiny``: the tiny test presets, a smoke run).
Each (modality, runner) runs in its own process, so peak memory (max RSS) is its own. Per modality:
preprocessing alone (our processors on the asset files), the encoder at each batch size (random inputs, same for
every runner), end to end from files (ours: decode + preprocess + encode with background decoding), samples/s,
peak RSS (model building + encoder stage; the end-to-end stage's peak separately), and the cosine of each
precision's embeddings to our fp32 ones (same weights, same inputs). Wall-clock and process CPU seconds are both
recorded (CPU time is less disturbed by other processes on a shared machine). Our runners opt in to the
process-wide allocator tuning at start, as the ``languagebind`` CLI does (``LANGUAGEBIND_MALLOC_TUNING=0`` turns it
off; ``malloc_tuned`` per result); the ``official`` runner, described in benchmarks/official_style.py, does not.
Writes a table and ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ["LANGUAGEBIND_SHARED"]) if os.environ.get("LANGUAGEBIND_SHARED") else None
FIXTURES = REPO / "tests" / "fixtures"
RELEASED_DIR = SHARED / "reference" / "released-configs" if SHARED else FIXTURES / "released-configs"
ASSETS_DIR = SHARED / "assets" if SHARED else FIXTURES / "assets"
RELEASED = {"image": "LanguageBind_Image", "audio": "LanguageBind_Audio_FT", "video": "LanguageBind_Video_FT",
            "depth": "LanguageBind_Depth", "thermal": "LanguageBind_Thermal", "text": "LanguageBind_Image"}
MODALITIES = ("image", "audio", "video", "text", "depth", "thermal")
RUNNERS = ("official", "auto", "fp32", "bf16", "int8", "ort-fp32", "ort-int8")  # fp32 first (agreement reference)
DEFAULT_RUNNERS = ("official", "fp32", "auto")
# --emulate avx2: what each child process gets so it computes as on an AVX2-only CPU (see docs/performance.md):
# cpuid itself answers as an AVX2-only CPU (benchmarks/cpuid_avx2.c, preloaded: every library then picks AVX2
# kernels, ONNX Runtime's MLAS and fbgemm included), and the switches of the libraries that have one say the same.
EMULATION = {"avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
                      "FBGEMM_ENABLE_INSTRUCTIONS": "AVX2",
                      "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F,-AVX512VL,-AVX512BW,-AVX512DQ,-AVX512CD"}}
# Without cpuid faulting (or gcc) only the switches hold: then int8 is held to fbgemm, as int8_engine() picks it
# without VNNI / AMX, in every process the children start (auto's timing child reads the CPU itself).
SWITCHES_ONLY = {"LANGUAGEBIND_INT8_ENGINE": "x86"}
CPUID_SOURCE = Path(__file__).with_name("cpuid_avx2.c")
CAPTIONS = ("a dog running on the beach", "a man playing an acoustic guitar on a small stage at night",
            "traffic noise in a busy street", "a red car", "two children building a sandcastle near the sea",
            "an infrared photo of a person walking", "the depth map of a living room with a sofa and a table",
            "birds singing in the forest early in the morning while the wind blows")


# -- child: one (modality, runner) ------------------------------------------------------------------------
def config_path(modality: str) -> Path:
    return RELEASED_DIR / RELEASED[modality] / "config.json"


def load_config(modality: str, tiny: bool) -> Any:
    from languagebind.model.config import CheckpointConfig
    from languagebind.model.presets import tiny_config

    if tiny:
        return tiny_config("image" if modality == "text" else modality, image_size=(112, 1036) if modality ==
                           "audio" else 224, patch_size=14, num_frames=8)
    return CheckpointConfig.from_file(config_path(modality))


def vision_input(config: Any, batch: int) -> Any:
    import torch

    vis = config.vision
    frames = (vis.num_frames,) if vis.modality == "video" else ()
    shape = (batch, 3, *frames, *vis.image_size)
    return torch.randn(shape, generator=torch.Generator().manual_seed(batch))


def build_runner(modality: str, runner: str, config: Any) -> tuple[Any, Any, str, Any]:
    """-> (encode(batch_input) -> (B,P) float32 normalised, encode_files(list) or None, resolved precision,
    the ONNX Runtime engine's report (cache entry, build time, size) or None)."""
    import torch
    import torch.nn.functional as F

    if runner == "official":
        sys.path.insert(0, str(Path(__file__).parent))
        from languagebind.model.config import to_official
        from official_style import OfficialStyleText, OfficialStyleVision

        official = to_official(config)
        text, vision = OfficialStyleText(official), OfficialStyleVision(official)  # the whole checkpoint, as loaded

        def encode(x: Any) -> Any:
            with torch.inference_mode():
                out = text(x["input_ids"], x["attention_mask"]) if modality == "text" else vision(x)
            return F.normalize(out.float(), dim=-1)

        return encode, None, "fp32", None
    from languagebind.api import LanguageBind

    model = LanguageBind.from_config(config, precision=runner, device="cpu")
    engine = getattr(model.tower(config.modality), "engine", None)
    if modality == "text":
        def encode(x: Any) -> Any:
            with torch.inference_mode():
                return model._encode_text(x, True)  # the path of encode("text", ...) after tokenisation
        return encode, lambda texts: model.encode("text", texts, batch_size=len(texts)), model.precision, None
    return (lambda x: model.encode(modality, x, batch_size=len(x)),
            lambda files: model.encode(modality, files, batch_size=8), model.precision, engine)


def text_input(batch: int) -> dict[str, Any]:
    from languagebind.processing import CLIPTokenizer

    return CLIPTokenizer.from_dir(None)([CAPTIONS[i % len(CAPTIONS)] for i in range(batch)])


LONG_RUN_S = 30.0  # a call slower than this is timed once (full-size video at batch 8: ~80 s in fp32 on 2 cores)


def timed(fn: Any, arg: Any, repeats: int) -> tuple[list[float], list[float], Any]:
    """Wall-clock and process CPU seconds (all threads) of each call; the CPU time is less affected by other
    processes on a shared machine."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        usage, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        out = fn(arg)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpus.append(after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime)
        if walls[-1] > LONG_RUN_S:
            break
    return walls, cpus, out


def emulate_cpu(spec: dict[str, Any]) -> None:
    """Under ``--emulate avx2`` the CPU also reports no native bf16, VNNI or AMX to languagebind (so ``auto`` and
    the int8 weight type decide as on an AVX2-only CPU); the env vars of ``EMULATION`` set torch's kernels."""
    import torch

    if spec.get("emulate"):
        for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported", "_is_vnni_supported",
                     "_is_amx_fp16_supported"):
            setattr(torch.cpu, name, lambda: False)


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    import torch

    emulate_cpu(spec)
    if spec.get("stage") == "floor":
        return floor_child(spec)
    if spec.get("stage") == "profile":
        return profile_child(spec)
    from languagebind.precision import hardware_summary, tune_cpu_allocator

    torch.set_num_threads(spec["threads"])
    modality, runner = spec["modality"], spec["runner"]
    if runner != "official":  # opt in as the languagebind CLI does (the official code does not tune the heap)
        tune_cpu_allocator()  # LANGUAGEBIND_MALLOC_TUNING=0 turns it off
    config = load_config(modality, spec["tiny"])
    start = time.perf_counter()
    encode, encode_files, resolved, engine = build_runner(modality, runner, config)
    result: dict[str, Any] = {"modality": modality, "runner": runner, "precision": resolved,
                              "build_s": time.perf_counter() - start, "batches": {}, "engine": engine,
                              "cpu_capability": torch.backends.cpu.get_cpu_capability()}
    previous = None
    for batch in spec["batches"]:
        x = text_input(batch) if modality == "text" else vision_input(config, batch)
        if previous is None or previous[1] * batch / previous[0] < LONG_RUN_S:
            encode(x)  # warm-up at this shape (kernel selection, weight packing), unless it would take long
        walls, cpus, out = timed(encode, x, spec["repeats"])
        previous = (batch, float(np.median(walls)))
        result["batches"][str(batch)] = {"s_per_batch": float(np.median(walls)), "samples_per_s":
                                         batch / float(np.median(walls)), "all_s": walls,
                                         "cpu_s_per_batch": float(np.median(cpus))}
        np.save(Path(spec["ref_dir"]) / f"{modality}-{runner}-b{batch}.npy", out.numpy())
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # build + encoder
    if encode_files is not None and "e2e" in spec["stages"]:
        items = list(CAPTIONS) if modality == "text" else asset_files(modality, 8)
        encode_files(items[:2])  # warm-up of the decoders
        walls, cpus, _ = timed(encode_files, items, spec["repeats"])
        result["e2e"] = {"items": len(items), "s": float(np.median(walls)), "samples_per_s":
                         len(items) / float(np.median(walls)), "cpu_s": float(np.median(cpus))}
        result["peak_rss_e2e_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["malloc_tuned"] = hardware_summary()["malloc_tuned"]  # our runners opt in at start (not official)
    return result


def text_tokens(batch: int) -> int:
    """Token positions our text path runs for the benchmark's captions (the all-padding tail dropped)."""
    return int(text_input(batch)["input_ids"].argmax(dim=-1).max()) + 1


def floor_child(spec: dict[str, Any]) -> dict[str, Any]:
    """GEMM rates of every installed engine on the towers' matmul shapes, and each tower's floor."""
    sys.path.insert(0, str(Path(__file__).parent))
    import torch

    import floor as fl
    from languagebind.precision import cpu_has_native_bf16, ort_available

    batch = max(spec["batches"])
    shapes = {m: fl.tower_shapes(load_config(m, spec["tiny"]), batch, text_tokens(batch) if m == "text" else 0)
              for m in spec["modalities"]}
    native_bf16 = cpu_has_native_bf16()
    rates = fl.gemm_rates([shape for s in shapes.values() for shape in s["linear"]], spec["threads"], native_bf16)
    attention = fl.attention_rates([shape for s in shapes.values() for shape in s["attention"]], spec["threads"],
                                   native_bf16)
    return floor_report({"batch": batch, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                         "native_bf16": native_bf16, "ort": ort_available(), "shapes": shapes, "rates_gflops": rates,
                         "attention_rates_gflops": attention})


def floor_report(sweep: dict[str, Any]) -> dict[str, Any]:
    """A sweep's rates summarised and each tower's floor: over all engines (``any``), the float ones (``float``:
    fp32, and bf16 where native) and fp32 alone. The language tower is never quantised (pretrained text encoders'
    outlier channels, see languagebind.precision), so text's floor is its ``float`` one (``floor_key``)."""
    sys.path.insert(0, str(Path(__file__).parent))
    import floor as fl

    rates, attention = sweep["rates_gflops"], sweep["attention_rates_gflops"]
    both = {e: {**rates.get(e, {}), **attention.get(e, {})} for e in {*rates, *attention}}
    fp32 = ["torch-fp32"] + (["ort-fp32"] if sweep["ort"] else [])
    floats = [e for e in both if "int8" not in e]
    return {**sweep, "best_rate_gflops": fl.summarise_rates(rates),
            "best_attention_rate_gflops": fl.summarise_rates(attention),
            "towers": {m: {"fp32": fl.floor(s, both, fp32), "float": fl.floor(s, both, floats),
                           "any": fl.floor(s, both, list(both))} for m, s in sweep["shapes"].items()}}


def floor_key(modality: str) -> str:
    """Which of a tower's floors ``auto`` is held to: ``float`` for the (never quantised) text tower, else ``any``."""
    return "float" if modality == "text" else "any"


def merge_sweeps(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Two floor sweeps, one before the towers and one after: each rate is the better of the two (a sweep that
    another process disturbed on some shapes then does not set the floor)."""
    if first.get("error") or second.get("error"):
        return second if first.get("error") else first
    merged = {key: {e: {shape: max(rate, second[key].get(e, {}).get(shape, 0.0)) for shape, rate in by.items()}
                    for e, by in first[key].items()} for key in ("rates_gflops", "attention_rates_gflops")}
    return {**floor_report({**first, **merged}), "sweeps": 2}


def profile_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Seconds by category of one forward per runner (the official runner, our fp32 and ``auto``): torch.profiler's
    self CPU time, or ONNX Runtime's node profile where ``auto`` runs the tower on that engine."""
    sys.path.insert(0, str(Path(__file__).parent))
    import torch

    import floor as fl

    torch.set_num_threads(spec["threads"])
    out, modes = {}, {}
    for runner in ("official", "fp32", "auto"):
        config = load_config(spec["modality"], spec["tiny"])
        encode, _, modes[runner], engine = build_runner(spec["modality"], runner, config)
        batch = spec["profile_batch"]
        x = text_input(batch) if spec["modality"] == "text" else vision_input(config, batch)
        if engine:
            out[runner] = fl.profile_session(Path(engine["directory"]) / "model.onnx", x, spec["threads"])
        else:
            with torch.inference_mode():
                out[runner] = fl.profile_tower(encode, x)
        del encode
    return {"modality": spec["modality"], "batch": spec["profile_batch"], "precision": modes, "self_cpu_s": out}


def emulation_env(name: str | None) -> dict[str, str]:
    """The environment of every child under ``--emulate``: ``EMULATION``'s switches, and the cpuid mask preloaded
    where it works here (else the switches alone, with ``SWITCHES_ONLY``, and a line saying why)."""
    if not name:
        return {}
    env = dict(EMULATION[name])
    preload, why = build_cpuid_mask()
    if preload is None:
        print(f"--emulate {name}: cpuid is not masked ({why}); only torch, oneDNN and MKL are held to AVX2",
              file=sys.stderr, flush=True)
        return {**env, **SWITCHES_ONLY}
    env["LD_PRELOAD"] = ":".join(filter(None, (str(preload), os.environ.get("LD_PRELOAD"))))
    return env


def build_cpuid_mask() -> tuple[Path | None, str]:
    """benchmarks/cpuid_avx2.c compiled (once per version of the source, in the temp dir) and checked: a child
    with it preloaded must see an AVX2 CPU without VNNI. (None, why) where gcc or cpuid faulting is missing."""
    digest = hashlib.sha256(CPUID_SOURCE.read_bytes()).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / f"languagebind-cpuid-avx2-{digest}.so"
    if not target.exists():
        partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
        try:
            build = subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(partial), str(CPUID_SOURCE)],
                                   capture_output=True, text=True)
        except OSError as err:
            return None, f"gcc: {err}"
        if build.returncode != 0:
            partial.unlink(missing_ok=True)
            return None, f"gcc failed: {build.stderr.strip()[-300:]}"
        os.replace(partial, target)
    code = "import torch; print('CPU', torch.backends.cpu.get_cpu_capability(), torch.cpu._is_vnni_supported())"
    check = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env={**os.environ, "LD_PRELOAD": str(target)})
    seen = [line for line in check.stdout.splitlines() if line.startswith("CPU ")]
    if check.returncode != 0 or seen != ["CPU AVX2 False"]:
        return None, f"a child with it preloaded saw {seen or check.stderr.strip()[-300:]}"
    return target, ""


def emulation_check(env: dict[str, str]) -> dict[str, Any]:
    """What the emulation does: whether cpuid is masked, torch's capability, and the ISA oneDNN dispatches a bf16
    matmul to."""
    code = ("import torch; torch.set_num_threads(1); l = torch.nn.Linear(256, 256).bfloat16();"
            " l(torch.randn(256, 256).bfloat16()); print('CAP', torch.backends.cpu.get_cpu_capability())")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env, "ONEDNN_VERBOSE": "1"})
    lines = proc.stdout.splitlines()
    onednn = [line for line in lines if "onednn_verbose" in line and ",exec," in line and "matmul" in line]
    isa = [line for line in lines if "onednn_verbose" in line and "isa:" in line]
    return {"cpuid_masked": "LD_PRELOAD" in env,
            "cpu_capability": next((line.split()[1] for line in lines if line.startswith("CAP")), None),
            "onednn_isa": isa[0].split("isa:", 1)[1].strip() if isa else None,
            # None: oneDNN never ran, i.e. torch computed the bf16 matmul with its own (slow) fallback kernel
            "onednn_bf16_matmul_impl": onednn[0].split(",")[6] if onednn else None}


def asset_files(modality: str, count: int) -> list[Path]:
    files = sorted((ASSETS_DIR / modality).iterdir())
    return [files[i % len(files)] for i in range(count)]


# -- parent -------------------------------------------------------------------------------------------------
def preprocessing(modalities: list[str], repeats: int) -> dict[str, Any]:
    """Our processors alone on the asset files: seconds per item (median)."""
    from languagebind.processing import CLIPTokenizer, ProcessorConfig, build_processor

    out = {}
    for modality in modalities:
        if modality == "text":
            fn, items = CLIPTokenizer.from_dir(None), list(CAPTIONS)
        else:
            processor = build_processor(modality, ProcessorConfig())
            fn, items = processor, asset_files(modality, 2)
        fn(items)
        walls, cpus, _ = timed(fn, items, max(repeats, 3))
        out[modality] = {"s_per_item": float(np.median(walls)) / len(items),
                         "cpu_s_per_item": float(np.median(cpus)) / len(items)}
    return out


def machine() -> dict[str, Any]:
    import torch

    from languagebind.precision import hardware_summary

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    summary = {k: v for k, v in hardware_summary().items() if k != "malloc_tuned"}  # per child, see results
    return {**summary, "cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__,
            "python": platform.python_version()}


def run_case(spec: dict[str, Any]) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    env = {**os.environ, **spec.get("emulation_env", {})}
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True,
                          env=env)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return {"modality": spec.get("modality"), "runner": spec.get("runner"), "error": proc.stderr.strip()[-2000:]}
    return {**json.loads(lines[-1][len("RESULT "):]), "load_before": load_before, "load_after": os.getloadavg()[0]}


def agreement(ref_dir: Path, results: list[dict[str, Any]]) -> None:
    """Cosine of each runner's embeddings to our fp32 ones (same weights and inputs; not for ``official``)."""
    for row in results:
        if row.get("error") or row["runner"] in ("official", "fp32"):
            continue
        cos = {}
        for batch in row["batches"]:
            ref = ref_dir / f"{row['modality']}-fp32-b{batch}.npy"
            if ref.is_file():
                a, b = np.load(ref_dir / f"{row['modality']}-{row['runner']}-b{batch}.npy"), np.load(ref)
                cos[batch] = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        if cos:
            values = np.concatenate(list(cos.values()))
            row["cosine_vs_fp32"] = {"mean": float(values.mean()), "min": float(values.min())}


def ratios(results: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """samples/s of each runner / the official runner's, per modality and batch size."""
    table: dict[str, dict[str, float]] = {}
    official = {r["modality"]: r for r in results if r["runner"] == "official" and not r.get("error")}
    for row in results:
        base = official.get(row["modality"])
        if base is None or row.get("error") or row["runner"] == "official":
            continue
        for batch, stats in row["batches"].items():
            if batch in base["batches"]:
                key, ref = f"{row['runner']}@b{batch}", base["batches"][batch]
                table.setdefault(row["modality"], {})[key] = stats["samples_per_s"] / ref["samples_per_s"]
                table[row["modality"]][key + ":cpu"] = ref["cpu_s_per_batch"] / stats["cpu_s_per_batch"]
    return table


def format_table(report: dict[str, Any]) -> str:
    batches = report["settings"]["batches"]
    head = ["modality", "runner", "prec"] + [f"b{b} s/batch" for b in batches] + [f"b{b} /s" for b in batches]
    head += ["x official", "x (cpu s)", "floor s", "/ floor", "e2e /s", "peak MB", "cos fp32"]
    rows = [head]
    ratio = report["ratios"]
    floors = report.get("floor", {}).get("towers", {})
    for r in report["results"]:
        if r.get("error"):
            rows.append([r["modality"], r["runner"], "ERROR", r["error"].splitlines()[-1][:60]])
            continue
        stats = [r["batches"].get(str(b)) for b in batches]
        last = f"{r['runner']}@b{batches[-1]}"
        floor_s = floors.get(r["modality"], {}).get(floor_key(r["modality"]), {}).get("seconds")
        at_floor = stats[-1]["s_per_batch"] / floor_s if floor_s and stats[-1] else None
        rows.append([r["modality"], r["runner"], r["precision"]]
                    + [f"{s['s_per_batch']:.3f}" if s else "-" for s in stats]
                    + [f"{s['samples_per_s']:.2f}" if s else "-" for s in stats]
                    + [f"{ratio.get(r['modality'], {}).get(last, 0):.2f}x" if r["runner"] != "official" else "1.00x",
                       f"{ratio.get(r['modality'], {}).get(last + ':cpu', 0):.2f}x" if r["runner"] != "official"
                       else "1.00x",
                       f"{floor_s:.3f}" if floor_s else "-", f"{at_floor:.2f}x" if at_floor else "-",
                       f"{r['e2e']['samples_per_s']:.2f}" if "e2e" in r else "-", f"{r['peak_rss_mb']:.0f}",
                       f"{r['cosine_vs_fp32']['mean']:.5f}" if "cosine_vs_fp32" in r else "-"])
    widths = [max(len(str(row[i])) if i < len(row) else 0 for row in rows) for i in range(len(head))]
    return "\n".join("  ".join(str(c).rjust(w) for c, w in zip(row, widths, strict=False)) for row in rows)


def format_floor(report: dict[str, Any]) -> str:
    """The GEMM rates (best over the towers' shapes) and each tower's floor at the benchmark batch."""
    floor = report["floor"]
    lines = [f"GEMM GFLOP/s (best over the towers' Linear shapes, capability {floor['cpu_capability']}, native "
             f"bf16 {floor['native_bf16']}): "
             + ", ".join(f"{e} {v:.0f}" for e, v in floor["best_rate_gflops"].items())]
    if floor.get("best_attention_rate_gflops"):
        lines.append("attention matmuls GFLOP/s (best over the towers' shapes): " + ", ".join(
            f"{e} {v:.0f}" for e, v in floor["best_attention_rate_gflops"].items()))
    for modality, tower in floor["towers"].items():
        best = tower.get(floor_key(modality), tower["any"])
        engines = sorted(set(best["best_engine"].values()))
        parts = (f" (Linear {best['linear_s']:.3f} + attention {best['attention_s']:.3f} + conv {best['conv_s']:.3f})"
                 if "linear_s" in best else "")
        lines.append(f"floor {modality} (batch {floor['batch']}): {best['work_gflop']:.0f} GFLOP -> "
                     f"{best['seconds']:.3f} s{parts} at the best {'float ' if floor_key(modality) == 'float' else ''}"
                     f"rates ({', '.join(engines)}); "
                     f"fp32 only {tower['fp32']['seconds']:.3f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modalities", default=",".join(MODALITIES))
    parser.add_argument("--runners", default=",".join(DEFAULT_RUNNERS), help=f"any of {','.join(RUNNERS)}")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per batch size (median reported)")
    parser.add_argument("--stages", default="floor,preprocess,encoder,e2e",
                        help="floor (GEMM rates and the floor), profile (torch.profiler by category), preprocess, "
                             "encoder, e2e")
    parser.add_argument("--emulate", choices=sorted(EMULATION), help="run every child as on an AVX2-only CPU: "
                        "cpuid reports AVX2 without AVX-512, VNNI, bf16 or AMX to every library (cpuid_avx2.c, "
                        "where the kernel has cpuid faulting and gcc is here), and torch, oneDNN, MKL and fbgemm "
                        "are held to AVX2 by their own switches")
    parser.add_argument("--profile-batch", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the issue's numbers use 2)")
    parser.add_argument("--tiny", action="store_true", help="tiny presets instead of the released sizes (smoke run)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "encode.json")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print("RESULT " + json.dumps(run_child(json.loads(args.child))), flush=True)
        return 0
    modalities, runners = args.modalities.split(","), args.runners.split(",")
    stages = args.stages.split(",")
    settings = {"modalities": modalities, "runners": runners, "batches": [int(b) for b in args.batches.split(",")],
                "repeats": args.repeats, "stages": stages, "threads": args.threads, "tiny": args.tiny,
                "emulate": args.emulate, "emulation_env": emulation_env(args.emulate),
                "profile_batch": args.profile_batch}
    report: dict[str, Any] = {"machine": machine(), "settings": settings, "started": time.strftime("%F %T")}
    if args.emulate:
        report["emulation"] = {"env": settings["emulation_env"], **emulation_check(settings["emulation_env"])}
        print(f"emulating {args.emulate}: {report['emulation']}", file=sys.stderr, flush=True)
    if "floor" in stages:
        report["floor"] = run_case({**settings, "stage": "floor"})
        print(json.dumps(report["floor"])[:300], file=sys.stderr, flush=True)
    if "profile" in stages:
        report["profile"] = {m: run_case({**settings, "stage": "profile", "modality": m}) for m in modalities}
    if "preprocess" in stages:
        report["preprocess"] = preprocessing(modalities, args.repeats)
    results = []
    with tempfile.TemporaryDirectory(prefix="lb-bench-") as ref_dir:
        for modality in modalities:
            for runner in sorted(runners, key=lambda r: r != "fp32"):  # fp32 first: the agreement reference
                spec = {**settings, "modality": modality, "runner": runner, "ref_dir": ref_dir}
                if "encoder" in stages or "e2e" in stages:
                    results.append(run_case(spec))
                    print(json.dumps(results[-1])[:300], file=sys.stderr, flush=True)
        agreement(Path(ref_dir), results)
    if "floor" in stages and "encoder" in stages:  # a second sweep after the towers; each rate the better one
        report["floor"] = merge_sweeps(report["floor"], run_case({**settings, "stage": "floor"}))
    report.update(results=results, ratios=ratios(results), finished=time.strftime("%F %T"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"machine: {report['machine']}")
    if "preprocess" in report:
        print("preprocessing ms/item: " + ", ".join(f"{m} {1000 * v['s_per_item']:.2f}"
                                                    for m, v in report["preprocess"].items()))
    if "floor" in report and not report["floor"].get("error"):
        print(format_floor(report))
    print(format_table(report))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
