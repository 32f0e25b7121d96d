"""The ONNX Runtime engine (``ort-fp32`` / ``ort-int8``) on tiny towers: agreement with fp32, the export cache
(reuse, atomic build, damaged entries rebuilt), the fallback to torch when the runtime is missing or fails, and
``auto`` on a CPU without native bf16."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from languagebind import precision as prec
from languagebind.api import LanguageBind
from languagebind.model.presets import tiny_config
from languagebind.precision import auto, child, device, ort

pytestmark = pytest.mark.skipif(not ort.ort_available(), reason="onnxruntime is not installed")
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("engines")


@pytest.fixture(autouse=True)
def _cache_env(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGUAGEBIND_ENGINE_CACHE", str(cache))


def build(precision: str, modality: str = "image") -> LanguageBind:
    return LanguageBind.from_config({modality: tiny_config(modality)}, precision=precision, seed=3)


def pixels(model: LanguageBind, modality: str, n: int = 5) -> torch.Tensor:
    cfg = model.config(modality).vision
    frames = (cfg.num_frames,) if modality == "video" else ()
    return torch.randn(n, 3, *frames, *cfg.image_size, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize(("modality", "precision", "bound"),
                         [("image", "ort-fp32", 0.9999), ("image", "ort-int8", 0.995), ("video", "ort-int8", 0.995)])
def test_engine_agrees_with_fp32_per_item(modality: str, precision: str, bound: float) -> None:
    reference = build("fp32", modality)
    model = build(precision, modality)
    assert model.precision == precision and model.tower(modality).engine["engine"] == "onnxruntime"
    x = pixels(reference, modality)
    cosine = F.cosine_similarity(model.encode(modality, x), reference.encode(modality, x))
    assert cosine.min().item() >= bound
    assert model.encode(modality, x[:2]).shape == (2, reference.config(modality).vision.projection_dim)  # any batch
    # the torch tower is whole: same fingerprint, same state (now memory-mapped from the cache)
    assert model.checkpoint_fingerprint(modality) == reference.checkpoint_fingerprint(modality)
    state, ref_state = model.tower(modality).state_dict(), reference.tower(modality).state_dict()
    assert all(torch.equal(state[k], ref_state[k]) for k in ref_state)


def test_cache_entry_is_reused_and_keyed_by_fingerprint_and_precision(cache: Path) -> None:
    first = build("ort-fp32")
    info = first.tower("image").engine
    entry = Path(info["directory"])
    assert entry == cache / first.checkpoint_fingerprint("image") / "fp32"
    assert sorted(p.name for p in entry.iterdir()) == ["meta.json", "model.onnx", "model.onnx.data"]
    assert info["size_bytes"] == sum(p.stat().st_size for p in entry.iterdir()) and info["build_s"] > 0
    mtime = (entry / "model.onnx").stat().st_mtime_ns
    again = build("ort-fp32")
    assert again.tower("image").engine["built"] is False
    assert (entry / "model.onnx").stat().st_mtime_ns == mtime
    assert not [p for p in entry.parent.iterdir() if p.name.startswith(".")]  # no temporary left


@pytest.mark.parametrize("damage", ["truncate", "flip", "meta", "weights"])
def test_damaged_entry_is_rebuilt(cache: Path, damage: str, capsys: pytest.CaptureFixture[str]) -> None:
    entry = Path(build("ort-fp32").tower("image").engine["directory"])
    model_file = entry / "model.onnx"
    data = bytearray(model_file.read_bytes())
    if damage == "truncate":
        model_file.write_bytes(data[: len(data) // 2])
    elif damage == "flip":  # same size, garbage in the graph
        data[100:164] = b"\xff" * 64
        model_file.write_bytes(bytes(data))
    elif damage == "meta":
        (entry / "meta.json").write_text("{not json")
    else:  # same size, weights zeroed: only the probe check can see it
        weights = entry / "model.onnx.data"
        weights.write_bytes(bytes(weights.stat().st_size))
    capsys.readouterr()
    model = build("ort-fp32")
    assert model.tower("image").engine["built"] is True
    assert "is rebuilt" in capsys.readouterr().err
    assert ort.check_entry(entry) is None


def test_failed_export_leaves_nothing_and_falls_back(cache: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    real_run = subprocess.run

    def failing_run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess:
        spec = json.loads(cmd[-1])
        (Path(spec["out"]) / "model.onnx").write_bytes(b"half")  # a child that dies mid-way
        return real_run([sys.executable, "-c", "raise SystemExit('killed')"], **kwargs)

    monkeypatch.setattr(child.subprocess, "run", failing_run)
    model = LanguageBind.from_config({"image": tiny_config("image")}, precision="ort-int8", seed=11)
    assert model.precision == "int8" and not hasattr(model.tower("image"), "engine")  # torch int8 instead
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "stays on torch" in err
    key_dir = cache / model.checkpoint_fingerprint("image")
    assert not (key_dir / f"int8-{ort.int8_weight_type()}").exists()
    assert not [p for p in key_dir.iterdir() if p.name.startswith(".")]


def test_a_concurrent_builder_that_lands_first_is_used(cache: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    entry = Path(LanguageBind.from_config({"image": tiny_config("image")}, precision="ort-fp32", seed=21)
                 .tower("image").engine["directory"])
    other = entry.parent / "other-rank"
    entry.rename(other)  # as if this process started building before another rank finished
    real_run = child.subprocess.run

    def other_rank_lands_first(*args: object, **kwargs: object) -> subprocess.CompletedProcess:
        done = real_run(*args, **kwargs)
        other.rename(entry)
        return done

    monkeypatch.setattr(child.subprocess, "run", other_rank_lands_first)
    model = LanguageBind.from_config({"image": tiny_config("image")}, precision="ort-fp32", seed=21)
    assert model.tower("image").engine["directory"] == str(entry) and ort.check_entry(entry) is None
    assert "stays on torch" not in capsys.readouterr().err
    assert sorted(p.name for p in entry.parent.iterdir()) == ["fp32", "weights.pt"]  # our build was discarded


def test_missing_runtime_falls_back_with_one_line(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    monkeypatch.setattr(ort, "_MISSING_NOTICE", [])
    assert not ort.ort_available()
    assert not any(mode.startswith("ort-") for mode in prec.native_precisions(CPU))
    reference, model = build("fp32"), build("ort-fp32")
    assert model.precision == "fp32" and not hasattr(model.tower("image"), "engine")
    x = pixels(model, "image")
    assert torch.equal(model.encode("image", x), reference.encode("image", x))
    assert capsys.readouterr().err.strip().count("\n") == 0  # one line
    assert build("ort-int8").precision == "int8"


def test_auto_never_picks_bf16_without_native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device, "cpu_has_native_bf16", lambda: False)
    monkeypatch.setattr(auto, "_TIMING_CACHE", {})
    timed: list[str] = []

    def bf16_looks_fastest(probe: tuple, modes: list[str]) -> dict[str, float]:
        timed.extend(modes)
        return {mode: 0.01 if mode == "bf16" else 1.0 for mode in modes}

    monkeypatch.setattr(auto, "time_blocks", bf16_looks_fastest)
    model = build("auto")
    assert model.precision != "bf16" and "bf16" not in timed
    assert prec.input_dtype(model.model.text) == torch.float32


def test_auto_takes_the_engine_when_it_is_fastest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auto, "_TIMING_CACHE", {})
    monkeypatch.setattr(auto, "time_blocks", lambda probe, modes: {
        "fp32": 1.0, "ort-fp32": 0.9, "bf16": 0.95, "int8": 0.7, "ort-int8": 0.5})
    model = build("auto")
    assert model.precision == "ort-int8" and model.tower("image").engine["precision"] == "int8"


def test_files_and_collections_run_on_the_engine(tmp_path: Path) -> None:
    from languagebind.collection.embed import CollectionSettings, embed_collection
    from languagebind.collection.store import CollectionReader
    from tests.collection.conftest import make_images

    files = make_images(tmp_path / "photos", 6, per_dir=4)
    model, reference = build("ort-int8"), build("fp32")
    tower, calls = model.tower("image"), []
    session = tower.forward
    tower.forward = lambda x: (calls.append(len(x)), session(x))[1]
    from_files = model.encode("image", files, batch_size=4)
    assert calls == [4, 2]
    embed_collection(model, tmp_path / "photos", tmp_path / "out", CollectionSettings("image", (".png",), 4, 4),
                     rank=0, world=1)
    assert calls == [4, 2, 4, 2]
    collected = torch.from_numpy(CollectionReader(tmp_path / "out").embeddings())
    torch.testing.assert_close(collected, from_files, atol=1e-6, rtol=0)
    assert F.cosine_similarity(from_files, reference.encode("image", files)).min().item() >= 0.995
