"""ONNX Runtime engine for the modality towers: exported once per checkpoint and precision, kept in a cache.

Precisions ``ort-fp32`` (ONNX Runtime's MLAS fp32 GEMM: the same numerics as fp32, faster than torch's fp32
Linear on AVX2 CPUs) and ``ort-int8`` (dynamic int8: per-channel int8 weights, activations quantised per call by
``DynamicQuantizeLinear`` + ``MatMulInteger``; s8 weights where the CPU has VNNI / AMX, u8 weights on plain AVX2,
where MLAS's u8s8 kernel could saturate). The transformer's Linear layers are quantised, never the output
projection. The language tower stays on torch.

The cache (``engine_cache_dir()``; ``LANGUAGEBIND_ENGINE_CACHE`` overrides) holds, per checkpoint fingerprint,
``weights.pt`` (the tower's fp32 state, what the export reads) and one directory per precision with
``model.onnx`` and ``meta.json`` (versions, file sizes and hashes, export time, the fp32 output of a probe
input). A directory appears whole (built under a temporary name, renamed), is reused when its meta matches, and
is rebuilt when it is damaged. The export runs in a child process, so its memory (the exporter holds several
copies of the weights) never adds to the caller's. Once the session runs, the torch tower's weights are
re-pointed at ``weights.pt`` (memory-mapped), so the process does not hold the weights twice; the tower stays a
complete torch module (``state_dict``, ``intermediates``, saving), only its ``forward`` runs the session.

If onnxruntime is missing or any step fails, the tower stays on torch and one line says so.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from languagebind.precision.child import ChildError, run_child
from languagebind.precision.int8 import cpu_has_int8_dot
from languagebind.precision.memory import release_free_memory
from languagebind.registry import get_modality
from languagebind.utils.io import atomic_write, write_json_atomic

ORT_PRECISIONS = {"ort-fp32": "fp32", "ort-int8": "int8"}  # engine precision -> its torch counterpart
FORMAT_VERSION = 2  # bump when the export changes: old cache entries are then rebuilt
OPSET = 17
# The ORT output on the probe must stay this close to the exporter's torch fp32 output (cosine, every item).
MIN_PROBE_COSINE = {"fp32": 0.9999, "int8": 0.998}
_MISSING_NOTICE: list[str] = []  # the "onnxruntime is missing" line is printed once per process


class EngineError(RuntimeError):
    """An export or session could not be built (the caller falls back to torch)."""


def ort_available() -> bool:
    """Whether onnxruntime and onnx are installed (both are needed: the export and the quantiser).

    Found on the path, not imported: importing them here would load ~30 MB of code and objects that then sit under
    the model ``auto`` builds (its timing runs in a child process). An install that is found but does not import
    fails when the engine is built, and that tower falls back to torch with a one-line notice.
    """
    try:
        return all(importlib.util.find_spec(name) is not None for name in ("onnx", "onnxruntime"))
    except (ImportError, ValueError):  # a parent package that does not import, or a module without a spec
        return False


def notice(message: str) -> None:
    """The engine's one-line notices (stderr)."""
    print(f"languagebind: {message}", file=sys.stderr, flush=True)


def engine_cache_dir() -> Path:
    """``$LANGUAGEBIND_ENGINE_CACHE``, else ``$XDG_CACHE_HOME/languagebind/engines`` (``~/.cache`` by default)."""
    if os.environ.get("LANGUAGEBIND_ENGINE_CACHE"):
        return Path(os.environ["LANGUAGEBIND_ENGINE_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "languagebind" / "engines"


def int8_weight_type() -> str:
    """``QInt8`` (u8s8 kernels) where the CPU has VNNI or AMX, else ``QUInt8`` (u8u8: exact on plain AVX2)."""
    return "QInt8" if cpu_has_int8_dot() else "QUInt8"


@dataclass
class EngineEntry:
    """One cache entry: its directory, whether this call built it, build seconds and size on disk."""

    directory: Path
    built: bool
    build_s: float
    size_bytes: int

    @property
    def meta(self) -> dict[str, Any]:
        return json.loads((self.directory / "meta.json").read_text())


def versions() -> dict[str, str]:
    import onnx
    import onnxruntime

    return {"format": str(FORMAT_VERSION), "torch": torch.__version__, "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__}


def entry_dir(key: str, precision: str, cache: Path | None = None) -> Path:
    """``<cache>/<fingerprint>/fp32`` or ``.../int8-QInt8`` / ``int8-QUInt8`` (the weight type follows the CPU)."""
    return (cache or engine_cache_dir()) / key / (precision if precision == "fp32" else f"int8-{int8_weight_type()}")


def check_entry(directory: Path) -> str | None:
    """None when the entry is complete and matches this runtime, else why not."""
    try:
        meta = json.loads((directory / "meta.json").read_text())
    except (OSError, ValueError) as err:
        return f"no readable meta.json ({err.__class__.__name__})"
    if meta.get("versions") != versions():
        return "built by another version"
    for name, info in meta.get("files", {}).items():
        path = directory / name
        if not path.is_file() or path.stat().st_size != info["size"]:
            return f"{name} is missing or has the wrong size"
        if "head_sha256" in info and info["head_sha256"] != head_sha256(path):
            return f"{name} is damaged"
    return None if meta.get("files") else "meta.json lists no files"


def head_sha256(path: Path, limit: int = 1 << 24) -> str:
    """Hash of a file's first 16 MB (the graph; the weights' damage shows in the probe check instead)."""
    with path.open("rb") as handle:
        return hashlib.sha256(handle.read(limit)).hexdigest()


def ensure_weights(tower: nn.Module, key: str, cache: Path | None = None) -> Path:
    """``<cache>/<key>/weights.pt``: the tower's state (LoRA merged copies are made by the export), written
    atomically once; rewritten when it cannot be read back."""
    path = (cache or engine_cache_dir()) / key / "weights.pt"
    if path.is_file():
        try:
            torch.load(path, mmap=True, weights_only=True)
            return path
        except Exception:  # damaged: write it again
            path.unlink()
    with atomic_write(path) as handle:
        torch.save({k: v.detach().float().contiguous() for k, v in tower.state_dict().items()}, handle)
    return path


def ensure_export(tower: nn.Module, config: dict[str, Any], precision: str, key: str,
                  cache: Path | None = None) -> EngineEntry:
    """The cache entry of ``tower`` (config: its ``CheckpointConfig.to_dict()``) in ``precision`` (``fp32`` or
    ``int8``): reused when whole, else exported in a child process and moved into place atomically."""
    directory = entry_dir(key, precision, cache)
    problem = check_entry(directory) if directory.exists() else "not built"
    if problem is None:
        return EngineEntry(directory, False, float(json.loads((directory / "meta.json").read_text())["build_s"]),
                           dir_size(directory))
    if directory.exists():
        notice(f"engine cache entry {directory} is rebuilt: {problem}")
    weights = ensure_weights(tower, key, cache)
    start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f".{precision}.", suffix=".tmp", dir=directory.parent))
    try:
        spec = {"weights": str(weights), "config": config, "precision": precision, "out": str(tmp),
                "threads": torch.get_num_threads(), "weight_type": int8_weight_type()}
        try:
            run_child("languagebind.precision.onnx_export", spec)
        except ChildError as err:
            raise EngineError(f"the export failed: {err}") from err
        meta = json.loads((tmp / "meta.json").read_text())
        meta["build_s"] = time.perf_counter() - start
        write_json_atomic(tmp / "meta.json", meta)
        if not (directory.exists() and check_entry(directory) is None):  # else another process (a torchrun
            shutil.rmtree(directory, ignore_errors=True)                 # rank) finished first: use its entry
            try:
                os.replace(tmp, directory)  # the entry appears whole
            except OSError:  # ... or it landed just now
                if check_entry(directory) is not None:
                    raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return EngineEntry(directory, True, meta["build_s"], dir_size(directory))


def dir_size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.iterdir() if p.is_file())


class OrtRunner:
    """``pixels -> features`` through an ONNX Runtime session (float32 in and out), the tower's ``forward``."""

    def __init__(self, model_path: Path, threads: int | None = None, profile_prefix: str | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if profile_prefix:  # ONNX Runtime's per-node timings, written by session.end_profiling()
            options.enable_profiling, options.profile_file_prefix = True, profile_prefix
        try:
            self.session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        except Exception as err:
            raise EngineError(f"onnxruntime cannot load {model_path}: {err}") from err
        self.input = self.session.get_inputs()[0].name

    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        array = pixels.detach().to("cpu", torch.float32).contiguous().numpy()
        return torch.from_numpy(self.session.run(None, {self.input: array})[0])


def attach(tower: nn.Module, config: dict[str, Any], precision: str, key: str, cache: Path | None = None
           ) -> EngineEntry | None:
    """Run ``tower`` on ONNX Runtime in ``precision`` (``fp32`` / ``int8``). Returns the cache entry, or None
    (with a one-line notice) when the runtime is missing or fails: the tower then stays on torch untouched."""
    if not ort_available():
        if not _MISSING_NOTICE:
            _MISSING_NOTICE.append("x")
            notice("onnxruntime is not installed; the towers run on torch (pip install onnxruntime onnx)")
        return None
    name = getattr(getattr(tower, "config", None), "modality", "tower")
    try:
        # The weights move to the memory-mapped file first, so the session's copy never sits beside them.
        weights = ensure_weights(tower, key, cache)
        with torch.no_grad():
            tower.load_state_dict(torch.load(weights, mmap=True, weights_only=True), assign=True)
        release_free_memory()
    except Exception as err:
        notice(f"the {name} tower stays on torch: its weights could not be cached ({err})")
        return None
    try:
        try:
            entry, runner, cosine = load_checked(tower, config, precision, key, cache)
        except EngineError as err:  # a reused entry that does not load or disagrees: rebuild it once
            directory = entry_dir(key, precision, cache)
            if not directory.exists() or getattr(err, "built", True):
                raise
            notice(f"engine cache entry {directory} is rebuilt: {err}")
            shutil.rmtree(directory)
            entry, runner, cosine = load_checked(tower, config, precision, key, cache)
    except Exception as err:
        notice(f"the {name} tower stays on torch: ONNX Runtime {precision} failed ({err})")
        return None
    tower.forward = runner  # the instance attribute shadows the class's forward: tower(x) runs the session
    tower.engine = {"engine": "onnxruntime", "precision": precision, "directory": str(entry.directory),
                    "built": entry.built, "build_s": entry.build_s, "size_bytes": entry.size_bytes,
                    "probe_cosine": cosine}
    return entry


def load_checked(tower: nn.Module, config: dict[str, Any], precision: str, key: str, cache: Path | None
                 ) -> tuple[EngineEntry, OrtRunner, float]:
    """The entry (built if needed), its session, and the cosine of its probe output to the fp32 reference."""
    entry = ensure_export(tower, config, precision, key, cache)
    try:
        runner = OrtRunner(entry.directory / "model.onnx")
        probe = entry.meta["probe"]
        got = runner(probe_input(config, int(probe["pixels_seed"])))
        cosine = float(torch.nn.functional.cosine_similarity(got, torch.tensor(probe["reference"])).min())
        if not cosine >= MIN_PROBE_COSINE[precision]:
            raise EngineError(f"its output disagrees with fp32 on the probe (cosine {cosine:.5f})")
    except Exception as err:
        error = err if isinstance(err, EngineError) else EngineError(str(err))
        error.built = entry.built  # type: ignore[attr-defined]
        raise error from err
    return entry, runner, cosine


def detach(tower: nn.Module) -> None:
    """Back to torch (the weights stay memory-mapped until the module is converted or reloaded)."""
    tower.__dict__.pop("forward", None)
    tower.__dict__.pop("engine", None)


def probe_input(config: dict[str, Any], seed: int, batch: int = 2) -> torch.Tensor:
    """The probe pixels a cache entry's reference is computed on (normalised-pixel noise in the tower's full
    input geometry: every frame of a video, as the export needs)."""
    from languagebind.model.config import CheckpointConfig

    cfg = CheckpointConfig.from_dict(config).vision
    frames = (cfg.num_frames,) if get_modality(cfg.modality).clip else ()
    return torch.randn(batch, cfg.num_channels, *frames, *cfg.image_size,
                       generator=torch.Generator().manual_seed(seed))
