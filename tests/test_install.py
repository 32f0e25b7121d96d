"""A normal (non-editable) install works from any directory with the configs shipped inside the package.

A wheel of this checkout goes into a fresh venv (no download: ``--no-index --no-deps``; the dependencies are
this environment's site-packages, added by a ``.pth`` line, which does not run the editable install's own
``.pth``, so the source tree stays out of sight). From an unrelated directory, the console script then writes
the tiny models, dry-runs ``build --config tiny`` and runs the demo's first stage (data) with the shipped
``test`` preset and (slow: 2,400 clips, ~50 s) with ``--quick``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.vidal.videos import make_corpus

REPO = Path(__file__).resolve().parents[1]


def _run(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` directory of a fresh venv holding a wheel install of this checkout."""
    root = tmp_path_factory.mktemp("install")
    source = root / "source"  # build from a copy: an in-tree build would write build/ and *.egg-info here
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
          str(source), "-w", str(root / "wheels")], cwd=root)
    (wheel,) = (root / "wheels").glob("languagebind-*.whl")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=root)
    python = venv / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=root).stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "--no-index",
          str(wheel)], cwd=root)
    where = _run([str(python), "-c", "import languagebind; print(languagebind.__file__)"], cwd=root).stdout.strip()
    assert Path(where).is_relative_to(site) and not Path(where).is_relative_to(REPO), where
    return venv / "bin"


def test_installed_package_builds_with_a_shipped_config_from_another_directory(installed: Path,
                                                                               tmp_path: Path) -> None:
    make_corpus(tmp_path / "videos", 2)
    tool = str(installed / "languagebind")
    made = _run([tool, "build", "--make-tiny-models", "tm"], cwd=tmp_path)
    assert "languagebind build --config tiny --models-dir tm" in made.stderr
    plan = _run([tool, "build", "--config", "tiny", "--models-dir", "tm", "--input", "videos", "--out", "out",
                 "--dry-run"], cwd=tmp_path)
    assert f"config: {installed.parent}" in plan.stderr and "configs/build/tiny.yaml" in plan.stderr
    assert "${models_dir} = tm  (--models-dir)" in plan.stderr and "tm/depth-glpn" in plan.stderr
    assert not (tmp_path / "out").exists()


def _demo_data(tool: str, preset: list[str], cwd: Path) -> str:
    done = _run([tool, "demo", *preset, "--only", "data", "--out", "run", "--no-progress"], cwd=cwd)
    assert "generated VIDAL-mini" in done.stderr
    assert (cwd / "run" / "data" / "dataset.json").is_file() and not (cwd / "run" / "towers").exists()
    return done.stdout


def test_installed_demo_finds_its_presets(installed: Path, tmp_path: Path) -> None:
    out = _demo_data(str(installed / "languagebind"), ["--config", "test"], tmp_path)
    assert f"VIDAL-mini in {Path('run') / 'data'}: train 40 items, " in out


@pytest.mark.slow
def test_installed_demo_quick_first_stage(installed: Path, tmp_path: Path) -> None:
    out = _demo_data(str(installed / "languagebind"), ["--quick"], tmp_path)
    assert f"VIDAL-mini in {Path('run') / 'data'}: train 2400 items, " in out
