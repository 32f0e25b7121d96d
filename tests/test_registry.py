"""The modality registry: specs are checked, names are unique, hooks resolve, plug-ins load or are reported."""

from __future__ import annotations

import threading
from importlib import metadata

import pytest
import torch

from languagebind import registry
from languagebind.errors import ConfigError, InputError
from languagebind.model.config import CheckpointConfig, from_official
from languagebind.model.presets import tiny_config
from languagebind.processing import build_processor
from languagebind.registry import ModalitySpec, get_modality, modality_names, register_modality, unregister_modality

RELEASED = {"image": "LanguageBindImage", "video": "LanguageBindVideo", "audio": "LanguageBindAudio",
            "depth": "LanguageBindDepth", "thermal": "LanguageBindThermal"}


def spec(**changes: object) -> ModalitySpec:
    fields = {"name": "smell", "extensions": (".smell",), "loader": lambda item, cfg: torch.zeros(3, 32, 32),
              "item_shape": lambda cfg: (3, 32, 32)}
    return ModalitySpec(**{**fields, **changes})


@pytest.fixture
def smell():
    yield
    unregister_modality("smell")


def test_the_released_modalities_are_built_in_with_their_model_types() -> None:
    for name, model_type in RELEASED.items():
        found = get_modality(name)
        assert (found.source, found.model_type) == ("built-in", model_type)
        assert registry.by_model_type(model_type) is found
    types = [s.model_type for s in registry.modalities() if s.model_type]
    assert len(types) == len(set(types))
    assert registry.with_extension(".WAV") == ("audio",)


@pytest.mark.parametrize(("changes", "message"), [
    ({"name": "text"}, "other than 'text'"), ({"name": "Smell"}, "lower-case"), ({"name": "a=b"}, "lower-case"),
    ({"extensions": ("smell",)}, "must start with a dot"), ({"templates": ("no placeholder",)}, "'{}'"),
    ({"start": "magic"}, "clip, scratch or tower:NAME"), ({"in_memory": ("bytes",)}, "in_memory"),
])
def test_a_bad_spec_is_refused(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        spec(**changes)


def test_names_are_unique_and_registration_is_idempotent(smell) -> None:
    first = register_modality(spec(), source="plug-in test")
    assert register_modality(first) is first  # the same spec again: no error
    with pytest.raises(ConfigError, match="already registered"):
        register_modality(spec(letter="x"))
    replaced = register_modality(spec(letter="x"), source="plug-in test", replace_existing=True)
    assert get_modality("smell") is replaced and replaced.letter == "x"
    assert modality_names()[-1] == "smell" and "smell" not in modality_names()[:len(RELEASED)]


def test_unknown_names_and_broken_hooks_are_named() -> None:
    with pytest.raises(ConfigError, match=r"unknown modality 'smell'; known: .*image"):
        get_modality("smell")
    with pytest.raises(InputError, match="unknown modality"):
        build_processor("smell")
    broken = spec(loader="languagebind.processing.nowhere:load")
    with pytest.raises(ConfigError, match=r"its loader 'languagebind\.processing\.nowhere:load' cannot be imported"):
        broken.resolve("loader")


def test_a_broken_plugin_is_reported_not_fatal() -> None:
    entry = metadata.EntryPoint(name="broken", value="no_such_languagebind_plugin", group=registry.ENTRY_POINT_GROUP)
    registry.load_entry_point(entry)
    try:
        assert "ModuleNotFoundError" in registry.plugin_errors()["no_such_languagebind_plugin"]
        assert set(RELEASED) <= set(modality_names())
    finally:
        registry._FAILED_PLUGINS.pop("no_such_languagebind_plugin", None)


def test_a_registered_modality_gets_a_tower_and_a_processor(smell) -> None:
    register_modality(spec(), source="plug-in test")
    config = tiny_config("smell")
    assert CheckpointConfig.from_dict(config.to_dict()) == config
    assert build_processor("smell").output_shape() == (3, 32, 32)
    with pytest.raises(ConfigError, match="no official format"):
        from languagebind.model.config import to_official

        to_official(config)
    with pytest.raises(ConfigError, match="unknown model_type"):
        from_official({"model_type": "LanguageBindSmell"})


def test_concurrent_first_lookups_all_see_every_builtin(monkeypatch) -> None:
    monkeypatch.setitem(registry._STATE, "loaded", False)
    seen: list[int] = []
    threads = [threading.Thread(target=lambda: seen.append(len(modality_names()))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 1 and seen[0] >= len(RELEASED)


def test_the_modalities_command_lists_every_spec(capsys) -> None:
    import json

    from languagebind.cli.main import main

    assert main(["modalities", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["name"] for r in rows] == list(modality_names())
    audio = next(r for r in rows if r["name"] == "audio")
    assert audio["loader"] == "languagebind.processing.processor:load_audio_item" and audio["source"] == "built-in"
    assert main(["modalities"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["name", "file", "kinds", "tokens", "source"]
    assert any(line.startswith("video ") and ".mp4" in line and "temporal" in line for line in table)
