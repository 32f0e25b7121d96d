"""benchmarks/encode.py runs end to end on the tiny presets and writes its report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "encode.py"


def test_encode_benchmark_tiny_run(tmp_path: Path) -> None:
    out = tmp_path / "encode.json"
    subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--modalities", "image,text", "--runners",
                    "official,fp32,int8,ort-int8", "--batches", "2", "--repeats", "1", "--out", str(out)],
                   check=True, capture_output=True, text=True)
    report = json.loads(out.read_text())
    assert report["machine"]["cpu_capability"]
    rows = {(r["modality"], r["runner"]): r for r in report["results"]}
    assert set(rows) == {(m, r) for m in ("image", "text") for r in ("official", "fp32", "int8", "ort-int8")}
    assert not any("error" in r for r in rows.values())
    assert rows[("image", "int8")]["cosine_vs_fp32"]["mean"] > 0.995
    assert rows[("image", "fp32")]["e2e"]["samples_per_s"] > 0 and rows[("image", "fp32")]["peak_rss_mb"] > 0
    assert set(report["ratios"]["image"]) >= {"fp32@b2", "int8@b2"}
    assert set(report["preprocess"]) == {"image", "text"}
    assert rows[("image", "ort-int8")]["engine"]["engine"] == "onnxruntime"
    assert rows[("image", "ort-int8")]["cosine_vs_fp32"]["min"] > 0.995
    floor = report["floor"]  # the machine's matmul floor: rates per engine, work and floor per tower
    assert {"torch-fp32", "torch-int8", "ort-fp32", "ort-int8"} <= set(floor["best_rate_gflops"])
    assert {"torch-fp32", "ort-fp32"} <= set(floor["best_attention_rate_gflops"])  # attention on its own shapes
    image = floor["towers"]["image"]["any"]
    assert image["seconds"] == pytest.approx(image["linear_s"] + image["attention_s"] + image["conv_s"])
    assert any(name.startswith("attn:") for name in image["best_engine"])
    assert all(floor["towers"][m]["any"]["seconds"] > 0 for m in ("image", "text"))
    assert floor["towers"]["image"]["any"]["seconds"] <= floor["towers"]["image"]["fp32"]["seconds"]
    # text's floor is its float one (the language tower is never quantised): between the int8 and fp32 floors
    text = floor["towers"]["text"]
    assert text["any"]["seconds"] <= text["float"]["seconds"] <= text["fp32"]["seconds"]
    assert not any("int8" in engine for engine in text["float"]["best_engine"].values())
