from __future__ import annotations

from pathlib import Path

import pytest

from languagebind.errors import ConfigError
from languagebind.vidal.plan import load_config
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
    assert config.sources == {"models_dir": "--set"}
    assert load_config(TINY_CONFIG, {"models_dir": "/cli"}, sources={"models_dir": "--models-dir"}
                       ).describe_variables() == "  ${models_dir} = /cli  (--models-dir)"


def test_no_silent_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the config and the command line set a variable: no environment variable, no remembered directory."""
    monkeypatch.chdir(tmp_path)  # ./tiny-models does not exist here
    monkeypatch.setenv("LANGUAGEBIND_MODELS_DIR", "/env")
    made = tmp_path / "cache" / "languagebind"
    made.mkdir(parents=True)
    (made / "tiny-models-dir").write_text(str(tmp_path))  # what older versions remembered
    config = load_config(TINY_CONFIG)
    assert config.stages[3].model == "./tiny-models/depth-glpn"
    assert config.variables == {"models_dir": "./tiny-models"} and config.sources == {"models_dir": "vars default"}
    assert "(vars default)" in config.describe_variables()


def test_shipped_build_configs_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_config("tiny", {"models_dir": "/m"}).fingerprint() == load_config(TINY_CONFIG,
                                                                                   {"models_dir": "/m"}).fingerprint()
    assert load_config("vidal").stages[-1].kind == "pack"
    with pytest.raises(ConfigError, match="shipped build configs: tiny, vidal"):
        load_config("tiniest")
    (tmp_path / "tiny").write_text("stages: [{kind: probe}, {kind: pack}]\n")  # an existing file wins
    assert [op.kind for op in load_config("tiny").stages] == ["probe", "pack"]


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
