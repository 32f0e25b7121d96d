"""A third-party modality with no edit under src/: the plug-in in tests/plugins/vibration_plugin.py is found
through the ``languagebind.modalities`` entry point of a tiny installed dist-info (CLI subprocesses) or by
``--plugin`` / import (in process), trained with ``languagebind train``, exported, loaded with ``from_pretrained``,
embedded and classified from the CLI and the API, and evaluated with ``languagebind eval folder``."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from languagebind.api import LanguageBind
from languagebind.cli.main import main
from languagebind.registry import get_modality, modality_names, unregister_modality

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1] / "src"
CLASSES = {"low_hum": 3.0, "high_whine": 40.0, "knocks": 0.0}  # folder -> cycles per window (0: impulses)


def signal(kind: str, index: int) -> np.ndarray:
    rng = np.random.default_rng(index)
    t = np.arange(300, dtype=np.float32)
    cycles = CLASSES[kind]
    if cycles:
        return np.sin(2 * np.pi * cycles * t / 300 + rng.uniform(0, 6)) + 0.1 * rng.standard_normal(300)
    out = 0.05 * rng.standard_normal(300)
    out[rng.integers(0, 60)::60] = 3.0
    return out


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory that is a plug-in installation: the module and a dist-info declaring its entry point."""
    site = tmp_path_factory.mktemp("site")
    shutil.copy(HERE / "vibration_plugin.py", site / "vibration_plugin.py")
    info = site / "vibration_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: vibration-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[languagebind.modalities]\nvibration = vibration_plugin\n")
    return site


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("vibration")
    lines = []
    for kind in CLASSES:
        (root / "bench" / kind).mkdir(parents=True)
        for i in range(8):
            name = f"{kind}_{i}.npy"
            np.save(root / name, signal(kind, i).astype(np.float32))
            lines.append(json.dumps({"id": f"{kind}{i}", "vibration": name,
                                     "text": {"raw": f"a machine making {kind.replace('_', ' ')}"}}))
            if i < 3:
                np.save(root / "bench" / kind / name, signal(kind, 100 + i).astype(np.float32))
    (root / "train.jsonl").write_text("\n".join(lines) + "\n")
    return root


def cli(site: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m languagebind ARGS`` seeing our sources and the installed plug-in (nothing else)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(site)]), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "languagebind", *args], capture_output=True, text=True, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def trained(plugin_site: Path, data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``languagebind train`` on the manifest in a subprocess that finds the plug-in by its entry point."""
    listing = cli(plugin_site, "modalities").stdout
    assert any(line.split()[0] == "vibration" and line.endswith("plug-in vibration-plugin")
               for line in listing.splitlines()), listing
    run = tmp_path_factory.mktemp("run") / "run"
    cli(plugin_site, "train", "--config", "tiny", "--out", str(run), "--set", "modality=vibration",
        "--set", "init=random:tiny", "--set", f"train_data={data / 'train.jsonl'}",
        "--set", f"val_data={data / 'train.jsonl'}", "--set", "val_samples=8", "--set", "max_steps=4",
        "--set", "save_every=4", "--set", "eval_every=0", "--set", "tuning=full")
    return run


@pytest.fixture
def registered(plugin_site: Path, monkeypatch: pytest.MonkeyPatch):
    """The plug-in imported in this process the way ``--plugin`` does, and forgotten afterwards."""
    monkeypatch.syspath_prepend(str(plugin_site))
    yield
    unregister_modality("vibration")
    sys.modules.pop("vibration_plugin", None)


def test_no_file_under_src_names_the_plugin():
    for path in (SRC / "languagebind").rglob("*.py"):
        literals = {n.value for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Constant)}
        assert "vibration" not in literals, path
    assert "vibration" not in modality_names()


def test_train_export_embed_classify_eval(trained: Path, data: Path, tmp_path: Path, registered, capsys) -> None:
    assert main(["--plugin", "vibration_plugin", "export", str(trained), "--out", str(tmp_path / "ckpt")]) == 0
    assert get_modality("vibration").source == "plug-in vibration_plugin"
    files = sorted(str(p) for p in (data / "bench").rglob("*.npy"))

    model = LanguageBind.from_pretrained(tmp_path / "ckpt")
    assert model.modalities == ["vibration"]
    api = model.encode("vibration", files)
    assert api.shape == (9, 32) and torch.allclose(api.norm(dim=1), torch.ones(9), atol=1e-5)

    assert main(["embed", "--checkpoint", f"vibration={tmp_path / 'ckpt'}", "--out", str(tmp_path / "e.npy"),
                 *files]) == 0
    assert np.allclose(np.load(tmp_path / "e.npy"), api.numpy(), atol=1e-5)

    labels = [name.replace("_", " ") for name in sorted(CLASSES)]  # the folder benchmark's class order
    capsys.readouterr()
    assert main(["classify", "--checkpoint", str(tmp_path / "ckpt"), "--labels", ",".join(labels), "--json",
                 *files]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    probs = model.classify("vibration", files, labels).probs  # the spec's templates by default
    assert [r["labels"][0]["label"] for r in rows] == [labels[i] for i in probs.argmax(1).tolist()]
    assert np.allclose([r["labels"][0]["score"] for r in rows], probs.max(1).values.numpy(), atol=1e-5)

    out = tmp_path / "folder.json"
    assert main(["eval", "folder", "--modality", "vibration", "--data", str(data / "bench"), "--checkpoint",
                 f"vibration={tmp_path / 'ckpt'}", "--out", str(out), "--no-cache"]) == 0
    result = json.loads(out.read_text())
    truth = [sorted(CLASSES).index(Path(f).parent.name) for f in files]  # files are sorted by class folder
    expected = 100.0 * float(np.mean([int(p) == t for p, t in zip(probs.argmax(1), truth, strict=True)]))
    assert (result["benchmark"], result["modality"], result["n"]) == ("folder", "vibration", 9)
    assert result["metrics"]["top1"] == pytest.approx(expected)
    assert result["metrics"]["top5"] == 100.0  # three classes


def test_bad_signal_is_named_and_skipped(trained: Path, data: Path, tmp_path: Path, registered, capsys) -> None:
    assert main(["--plugin", "vibration_plugin", "export", str(trained), "--out", str(tmp_path / "ckpt")]) == 0
    bad = tmp_path / "nan.npy"
    np.save(bad, np.array([1.0, np.nan, 2.0], dtype=np.float32))
    good = str(data / "low_hum_0.npy")
    assert main(["embed", "--checkpoint", str(tmp_path / "ckpt"), "--out", str(tmp_path / "e.npy"), good,
                 str(bad)]) == 2
    assert "NaN or infinite" in capsys.readouterr().err
    assert main(["embed", "--checkpoint", str(tmp_path / "ckpt"), "--out", str(tmp_path / "e.npy"), "--skip-bad",
                 good, str(bad)]) == 0
    assert np.load(tmp_path / "e.npy").shape == (1, 32)


def test_the_recipe_shows_this_plugin() -> None:
    doc = (HERE.parents[1] / "docs" / "adding-a-modality.md").read_text()
    assert "```python\n" + (HERE / "vibration_plugin.py").read_text() + "```" in doc
