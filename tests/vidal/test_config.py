from __future__ import annotations

from pathlib import Path

import pytest

from languagebind.errors import ConfigError
from languagebind.vidal.plan import last_tiny_models_record, load_config
from tests.vidal.conftest import TINY_CONFIG


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_tiny_config_resolves_models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(TINY_CONFIG, {"models_dir": "/m"})
    assert [op.kind for op in config.stages] == ["probe", "keyframes", "audio", "depth", "thermal",
                                                 "keyframe_captions", "video_caption", "polish", "pack"]
    assert config.stages[3].model == "/m/depth-glpn"
    monkeypatch.setenv("LANGUAGEBIND_MODELS_DIR", "/env")
    assert load_config(TINY_CONFIG).stages[3].model == "/env/depth-glpn"
    assert load_config(TINY_CONFIG, {"models_dir": "/cli"}).stages[3].model == "/cli/depth-glpn"


def test_models_dir_falls_back_to_the_last_tiny_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # ./tiny-models does not exist here
    monkeypatch.delenv("LANGUAGEBIND_MODELS_DIR", raising=False)
    assert load_config(TINY_CONFIG).stages[3].model == "./tiny-models/depth-glpn"
    made = tmp_path / "made"
    made.mkdir()
    last_tiny_models_record().parent.mkdir(parents=True)
    last_tiny_models_record().write_text(str(made))
    assert load_config(TINY_CONFIG).stages[3].model == f"{made}/depth-glpn"


def test_fingerprint_follows_options() -> None:
    a, b = load_config(TINY_CONFIG, {"models_dir": "/m"}), load_config(TINY_CONFIG, {"models_dir": "/m"})
    assert a.fingerprint() == b.fingerprint()
    assert load_config(TINY_CONFIG, {"models_dir": "/m"}, shard_size=3).fingerprint() != a.fingerprint()


@pytest.mark.parametrize(("text", "message"), [
    ("stages: [{kind: probe}, {kind: pack}]\nextra: 1\n", "unknown key"),
    ("stages: [{kind: probe, max_len: 3}, {kind: pack}]\n", "unknown option"),
    ("stages: [{kind: teleport}, {kind: pack}]\n", "unknown stage kind"),
    ("stages: [{kind: keyframes}, {kind: pack}]\n", "reads \\['info'\\]"),
    ("stages: [{kind: probe}]\n", "last stage must be 'pack'"),
    ("stages: [{kind: probe}, {kind: probe}, {kind: pack}]\n", "unique"),
    ("stages: [{kind: probe, batch_size: 0}, {kind: pack}]\n", "batch_size"),
    ("stages: [{kind: depth, model: '${nope}'}]\n", "not declared"),
    ("stages: []\n", "non-empty"),
    ("[1, 2]\n", "mapping"),
])
def test_config_errors_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_write(tmp_path, text))


def test_set_needs_a_declared_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="declares no such variable"):
        load_config(_write(tmp_path, "stages: [{kind: probe}, {kind: pack}]\n"), {"x": "1"})
