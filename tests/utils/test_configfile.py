from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from languagebind.errors import ConfigError
from languagebind.utils.configfile import (
    CONFIG_DIR,
    apply_overrides,
    find_config,
    parse_yaml,
    read_config,
    shipped_configs,
    to_dataclass,
)


def test_one_number_rule() -> None:
    data = parse_yaml("a: 1e-3\nb: 2.0e-3\nc: 3\nd: 1_000\ne: .5\nf: 1.5\ng: '1e-3'\nh: -2E+2\ni: .inf\nj: 1e3x\n")
    assert data == {"a": 1e-3, "b": 2e-3, "c": 3, "d": 1000, "e": 0.5, "f": 1.5, "g": "1e-3", "h": -200.0,
                    "i": float("inf"), "j": "1e3x"}
    assert [type(data[k]) for k in "abcd"] == [float, float, int, int]


@pytest.mark.parametrize("suffix", [".yaml", ".json", ".toml"])
def test_read_config_formats(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"c{suffix}"
    path.write_text({".yaml": "lr: 1e-4\nvision: {num_frames: 8}\n",
                     ".json": json.dumps({"lr": 1e-4, "vision": {"num_frames": 8}}),
                     ".toml": "lr = 1e-4\n[vision]\nnum_frames = 8\n"}[suffix])
    assert read_config(path) == {"lr": 1e-4, "vision": {"num_frames": 8}}


def test_read_config_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read train config .*missing\.yaml"):
        read_config(tmp_path / "missing.yaml", "train config")
    (tmp_path / "list.yaml").write_text("[1, 2]\n")
    with pytest.raises(ConfigError, match=r"list\.yaml: a config file must be a mapping"):
        read_config(tmp_path / "list.yaml")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ConfigError, match=r"bad\.json: cannot parse"):
        read_config(tmp_path / "bad.json")
    (tmp_path / "empty.yaml").write_text("# nothing\n")
    assert read_config(tmp_path / "empty.yaml") == {}


def test_overrides_dotted_keys_parsed_as_yaml() -> None:
    data = apply_overrides({"vision": {"num_frames": 4}}, ["lr=1e-4", "augment=false", "vision.tube_size=1",
                                                           "lr_multipliers={'*': 2}", "val_data=", "a.b.c=x"])
    assert data == {"vision": {"num_frames": 4, "tube_size": 1}, "lr": 1e-4, "augment": False,
                    "lr_multipliers": {"*": 2}, "val_data": None, "a": {"b": {"c": "x"}}}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        apply_overrides({}, ["lr"])
    with pytest.raises(ConfigError, match="lr is not a mapping"):
        apply_overrides({"lr": 1.0}, ["lr.x=1"])
    with pytest.raises(ConfigError, match="cannot parse the value"):
        apply_overrides({}, ["x=[1"])


@dataclass(frozen=True)
class Inner:
    size: int = 1
    name: str = "x"


@dataclass(frozen=True)
class Outer:
    inner: Inner = field(default_factory=Inner)
    maybe: Inner | None = None
    many: dict[str, Inner] = field(default_factory=dict)
    plain: dict[str, int] = field(default_factory=dict)
    rate: float = 0.1


def test_to_dataclass_nested_and_unknown_keys() -> None:
    made = to_dataclass(Outer, {"inner": {"size": 3}, "maybe": {"name": "m"}, "many": {"a": {"size": 2}},
                                "plain": {"k": 1}}, "test config")
    assert made == Outer(inner=Inner(size=3), maybe=Inner(name="m"), many={"a": Inner(size=2)}, plain={"k": 1})
    with pytest.raises(ConfigError, match=r"f.yaml: unknown test config keys \['rat'\]; known: inner, many"):
        to_dataclass(Outer, {"rat": 1}, "test config", "f.yaml")
    with pytest.raises(ConfigError, match=r"f.yaml: unknown test config keys \['sise'\] under many.a; known: name"):
        to_dataclass(Outer, {"many": {"a": {"sise": 2}}}, "test config", "f.yaml")
    with pytest.raises(ConfigError, match=r"unknown test config keys \['nme'\] under inner"):
        to_dataclass(Outer, {"inner": {"nme": 2}}, "test config")


def test_find_config_path_wins_then_shipped_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert {"tiny", "vidal"} <= set(shipped_configs("build")) and "quick" in shipped_configs("demo")
    assert find_config("tiny", "train") == CONFIG_DIR / "train" / "tiny.yaml"
    assert find_config("quick", "demo").is_file()
    (tmp_path / "tiny").write_text("x: 1\n")
    assert find_config("tiny", "train") == Path("tiny")  # an existing file wins over a shipped name
    with pytest.raises(ConfigError, match=r"no demo config named 'quik'.*shipped demo configs: default, nmodal, quick"):
        find_config("quik", "demo")
    with pytest.raises(ConfigError, match=r"build config nope/tiny.yaml: no such file .*tiny, vidal"):
        find_config("nope/tiny.yaml", "build")
