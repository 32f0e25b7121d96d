from __future__ import annotations

from pathlib import Path

import pytest

from languagebind.cli.main import main
from languagebind.vidal.tiny_models import MODELS
from tests.vidal.conftest import TINY_CONFIG


def test_make_tiny_models_then_dry_run_with_the_flag_it_prints(tmp_path: Path,
                                                                small_corpus: tuple[Path, dict[str, str]],
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LANGUAGEBIND_MODELS_DIR", str(tmp_path / "my-models"))  # ignored: no silent overrides
    assert main(["build", "--make-tiny-models", "my-models"]) == 0
    assert sorted(p.name for p in (tmp_path / "my-models").iterdir()) == sorted(MODELS)
    err = capsys.readouterr().err
    assert "languagebind build --config tiny --models-dir my-models" in err
    assert not (tmp_path / "cache").exists()  # nothing remembered behind the user's back
    # tiny.yaml's default ./tiny-models is missing here, and nothing stands in for it: the dry run says so.
    assert main(["build", "--config", "tiny", "--input", str(small_corpus[0]), "--out", "out", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "${models_dir} = ./tiny-models  (vars default)" in err and "does not exist" in err
    # with the flag --make-tiny-models printed, the shipped config by name finds them
    assert main(["build", "--config", "tiny", "--models-dir", "my-models", "--input", str(small_corpus[0]),
                 "--out", "out", "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "${models_dir} = my-models  (--models-dir)" in err and "my-models/depth-glpn" in err
    assert not (tmp_path / "out").exists()


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--config", str(TINY_CONFIG)]) == 2
    assert "missing --input, --out" in capsys.readouterr().err
    assert main(["build", "--config", str(TINY_CONFIG), "--input", str(tmp_path), "--out", str(tmp_path / "o"),
                 "--set", "nope=1"]) == 2
    assert "declares no such variable" in capsys.readouterr().err
