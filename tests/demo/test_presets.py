"""Demo presets: ``base`` inheritance (nmodal = default + two towers), and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from languagebind.demo.presets import load_config
from languagebind.errors import ConfigError


def test_nmodal_is_default_plus_two_towers() -> None:
    default, nmodal = load_config("default"), load_config("nmodal")
    assert set(nmodal.towers) == set(default.towers) | {"point", "imu"}
    assert all(nmodal.towers[m] == default.towers[m] for m in default.towers)
    assert nmodal.data == default.data and nmodal.text_model == default.text_model
    assert ("imu", "video") in nmodal.pairs and ("imu", "video") not in default.pairs


def test_base_merges_key_by_key(tmp_path: Path) -> None:
    child = tmp_path / "child.yaml"
    child.write_text("base: default\ndata: {n_train: 64}\ndefaults: {steps: 5}\n"
                     "towers: {video: {steps: 7}, depth: {image_size: 48}}\n")
    default, config = load_config("default"), load_config(child)
    assert config.data == {**default.data, "n_train": 64}
    assert config.towers["video"].steps == 7 and config.towers["video"].width == default.towers["video"].width
    assert config.towers["depth"].image_size == (48, 48) and config.towers["depth"].steps == 5  # new default
    assert config.towers["video"].init_from == "image" and config.pairs == default.pairs


def test_base_cycle_and_unknown_base(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(f"base: {b}\n")
    b.write_text(f"base: {a}\n")
    with pytest.raises(ConfigError, match="comes back to itself"):
        load_config(a)
    a.write_text("base: no-such-preset\n")
    with pytest.raises(ConfigError, match="no-such-preset"):
        load_config(a)


def test_data_with_more_sensors_serves_a_preset_that_needs_fewer(tmp_path: Path) -> None:
    import json

    from languagebind.data.synthetic.options import SyntheticConfig
    from languagebind.demo.run import with_rendered_sensors

    both, none = SyntheticConfig.tiny(), SyntheticConfig.tiny(sensors=())
    assert with_rendered_sensors(tmp_path, none) is none  # nothing there yet
    (tmp_path / "dataset.json").write_text(json.dumps({"config": both.to_dict()}))
    assert with_rendered_sensors(tmp_path, none) == both  # nmodal's data, then the default preset
    other = SyntheticConfig.tiny(sensors=(), n_train=24)
    assert with_rendered_sensors(tmp_path, other) is other  # different clips: render anew
    (tmp_path / "dataset.json").write_text(json.dumps({"config": none.to_dict()}))
    assert with_rendered_sensors(tmp_path, both) is both  # fewer sensors than asked for
    (tmp_path / "dataset.json").write_text("{not json")
    assert with_rendered_sensors(tmp_path, both) is both
