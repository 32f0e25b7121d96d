from __future__ import annotations

from pathlib import Path

import pytest

from languagebind.cli.main import main
from languagebind.vidal.plan import last_tiny_models_record
from languagebind.vidal.tiny_models import MODELS
from tests.vidal.conftest import TINY_CONFIG


def test_make_tiny_models_then_dry_run_finds_them(tmp_path: Path, small_corpus: tuple[Path, dict[str, str]],
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LANGUAGEBIND_MODELS_DIR", raising=False)
    assert main(["build", "--make-tiny-models", "my-models"]) == 0
    assert sorted(p.name for p in (tmp_path / "my-models").iterdir()) == sorted(MODELS)
    assert last_tiny_models_record().read_text().strip() == str(tmp_path / "my-models")
    # tiny.yaml's default ./tiny-models is missing here: the directory just written is used.
    assert main(["build", "--config", str(TINY_CONFIG), "--input", str(small_corpus[0]), "--out", "out",
                 "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "using the tiny models written last" in err and f"{tmp_path}/my-models/depth-glpn" in err
    assert not (tmp_path / "out").exists()


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--config", str(TINY_CONFIG)]) == 2
    assert "missing --input, --out" in capsys.readouterr().err
    assert main(["build", "--config", str(TINY_CONFIG), "--input", str(tmp_path), "--out", str(tmp_path / "o"),
                 "--set", "nope=1"]) == 2
    assert "declares no such variable" in capsys.readouterr().err
