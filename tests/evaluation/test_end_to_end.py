"""`languagebind eval` on every tiny public layout with tiny real checkpoints, checked against metrics
recomputed from ``LanguageBind.encode`` embeddings; cache reuse and determinism through the CLI."""

from __future__ import annotations

import json

import pytest

from languagebind.api import LanguageBind
from languagebind.cli.main import main
from languagebind.evaluation import BENCHMARKS, get_benchmark
from languagebind.model.presets import tiny_config
from tests.evaluation.layouts import BUILDERS
from tests.evaluation.reference import naive_expected

SLOW = {"imagenet"}  # 1000 classes x 80 prompts through the text tower


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory):
    """One tiny random checkpoint per modality, saved in our format."""
    root = tmp_path_factory.mktemp("checkpoints")
    out = {}
    for seed, modality in enumerate(["video", "audio", "depth", "thermal", "image", "point"]):
        model = LanguageBind.from_config({modality: tiny_config(modality)}, seed=seed)
        out[modality] = model.save_pretrained(root / modality, modality=modality)
    return out


def run_cli(name, data, checkpoint, out, *extra):
    modality = get_benchmark(name).modality
    return main(["eval", name, "--data", str(data), "--checkpoint", f"{modality}={checkpoint}", "--out", str(out),
                 "--batch-size", "2", *extra])


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in BENCHMARKS])
def test_cli_results_match_metrics_recomputed_from_encode(tmp_path, checkpoints, name):
    expected = BUILDERS[name](tmp_path / "data")
    checkpoint = checkpoints[get_benchmark(name).modality]
    assert run_cli(name, tmp_path / "data", checkpoint, tmp_path / "results.json",
                   "--cache-dir", str(tmp_path / "cache")) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["benchmark"] == name and results["n"] == len(expected["items"])
    assert set(get_benchmark(name).metrics) <= set(results["metrics"])
    model = LanguageBind.from_pretrained(checkpoint)
    for key, value in naive_expected(name, tmp_path / "data", expected, model).items():
        assert results["metrics"][key] == pytest.approx(value, abs=1e-9), key
    assert (tmp_path / "results.md").read_text().startswith("### ")


def test_second_cli_run_encodes_nothing_and_gives_identical_metrics(tmp_path, checkpoints, capsys):
    BUILDERS["msvd"](tmp_path / "data")
    args = ("--cache-dir", str(tmp_path / "cache"))
    run_cli("msvd", tmp_path / "data", checkpoints["video"], tmp_path / "a.json", *args)
    run_cli("msvd", tmp_path / "data", checkpoints["video"], tmp_path / "b.json", *args)
    first, second = (json.loads((tmp_path / f"{n}.json").read_text()) for n in "ab")
    assert first["encoded"] == {"items": 3, "texts": 6} and second["encoded"] == {"items": 0, "texts": 0}
    assert first["metrics"] == second["metrics"]
    assert "0 items and 0 texts encoded" in capsys.readouterr().err


def test_uncached_runs_are_deterministic(tmp_path, checkpoints):
    BUILDERS["audiocaps"](tmp_path / "data")
    for name in "ab":
        run_cli("audiocaps", tmp_path / "data", checkpoints["audio"], tmp_path / f"{name}.json", "--no-cache",
                "--dual-softmax")
    first, second = (json.loads((tmp_path / f"{n}.json").read_text()) for n in "ab")
    assert first["metrics"] == second["metrics"] and first["metrics_dual_softmax"] == second["metrics_dual_softmax"]


def test_unreadable_and_missing_files_through_the_cli(tmp_path, checkpoints, capsys):
    expected = BUILDERS["audiocaps"](tmp_path / "data")
    (tmp_path / "data" / expected["items"][0]).write_bytes(b"RIFF but not a wav")
    (tmp_path / "data" / expected["items"][2]).unlink()
    assert run_cli("audiocaps", tmp_path / "data", checkpoints["audio"], tmp_path / "r.json", "--no-cache") == 2
    assert "1 of 3 files are missing or unreadable" in capsys.readouterr().err  # missing: found before encoding
    assert run_cli("audiocaps", tmp_path / "data", checkpoints["audio"], tmp_path / "r.json", "--no-cache",
                   "--allow-missing") == 0
    results = json.loads((tmp_path / "r.json").read_text())
    assert results["n"] == 1 and results["n_missing"] == 2 and results["n_captions"] == 1
    assert [m["reason"] == "file not found" for m in results["missing"]] == [False, True]
    assert "metrics computed on 1 of 3 items" in capsys.readouterr().err


def test_unreadable_file_stops_the_run(tmp_path, checkpoints, capsys):
    expected = BUILDERS["sun_d"](tmp_path / "data")
    (tmp_path / "data" / expected["items"][0]).write_bytes(b"not a png")
    assert run_cli("sun_d", tmp_path / "data", checkpoints["depth"], tmp_path / "r.json", "--no-cache") == 2
    assert "1 of 4 files are missing or unreadable" in capsys.readouterr().err


def test_list_and_wrong_tower(tmp_path, checkpoints, capsys):
    assert main(["eval", "--list"]) == 0
    assert capsys.readouterr().out.split() == [*BENCHMARKS, "folder"]
    BUILDERS["llvip"](tmp_path / "data")
    assert main(["eval", "llvip", "--data", str(tmp_path / "data"), "--checkpoint", str(checkpoints["depth"]),
                 "--out", str(tmp_path / "r.json")]) == 2
    assert "needs a thermal tower" in capsys.readouterr().err
