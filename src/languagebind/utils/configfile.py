"""Config files: one reader for the train, build and demo configs (and anything else of ours).

* `read_config`: a YAML / JSON / TOML file -> a dict. YAML uses one number rule everywhere: YAML 1.2-style
  floats, so ``1e-3`` and ``2.0e-3`` are both the float 0.001 / 0.002 (plain YAML 1.1 reads ``1e-3`` as a string).
* `apply_overrides`: ``KEY=VALUE`` strings (``a.b=VALUE`` for a nested mapping; VALUE parsed as YAML).
* `to_dataclass`: a dict -> a (frozen or not) dataclass, nested dataclass fields included; an unknown key is a
  `ConfigError` naming the file, where in it, the key and the known ones.
* `find_config`: ``--config`` values: an existing path wins, else the name of a shipped config
  (``tiny`` -> ``languagebind/configs/<kind>/tiny.yaml``, inside the installed package).
"""

from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from languagebind.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
KINDS = ("train", "build", "demo")
SUFFIXES = (".yaml", ".yml", ".json", ".toml")

T = TypeVar("T")


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads ``1e-4`` as a string (it wants ``1.0e-4``); read it as the float everyone means."""


# Appended after SafeLoader's own resolvers, so it only turns into floats what would otherwise stay a string.
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)(?:[eE][-+]?[0-9]+)?$|^[-+]?\.(?:inf|Inf|INF)$"
               r"|^\.(?:nan|NaN|NAN)$"),
    list("-+0123456789."))


def parse_yaml(text: str) -> Any:
    """YAML (a ``SafeLoader``) with the number rule above."""
    return yaml.load(text, Loader=_Loader)


def read_config(path: str | Path, what: str = "config") -> dict[str, Any]:
    """The mapping in a ``.toml``, ``.json`` or YAML (any other suffix) file; a `ConfigError` naming ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read {what} {path}: {err.strerror or err}") from err
    try:
        if path.suffix == ".toml":
            import tomllib

            data = tomllib.loads(text)
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            data = parse_yaml(text)
    except Exception as err:
        raise ConfigError(f"{what} {path}: cannot parse ({err})") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path}: a config file must be a mapping of keys to values")
    return data


def apply_override(data: dict[str, Any], item: str) -> None:
    """``KEY=VALUE`` (``a.b=VALUE`` for a nested mapping) set in ``data``; VALUE is parsed as YAML."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {item!r} is not KEY=VALUE")
    try:
        value = parse_yaml(raw) if raw.strip() else None
    except yaml.YAMLError as err:
        raise ConfigError(f"override {item!r}: cannot parse the value ({err})") from err
    *parents, leaf = key.strip().split(".")
    target = data
    for part in parents:
        child = target.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {item!r}: {part} is not a mapping")
        target = child
    target[leaf] = value


def apply_overrides(data: dict[str, Any], items: Iterable[str]) -> dict[str, Any]:
    """Every ``KEY=VALUE`` of ``items`` applied in order to ``data`` (changed in place and returned)."""
    for item in items:
        apply_override(data, item)
    return data


def check_keys(data: Mapping[str, Any], known: Iterable[str], what: str, source: str | Path | None = None,
               at: str = "") -> None:
    """A `ConfigError` when ``data`` has keys outside ``known``: ``<source>: unknown <what> keys [...] under
    <at>; known: ...`` (``what`` may be empty)."""
    known = list(known)
    unknown = sorted(set(data) - set(known))
    if unknown:
        where = f"{source}: " if source else ""
        label = f"unknown {what} keys" if what else "unknown keys"
        under = f" under {at}" if at else ""
        raise ConfigError(f"{where}{label} {unknown}{under}; known: {', '.join(sorted(known))}")


def to_dataclass(cls: type[T], data: Mapping[str, Any], what: str, source: str | Path | None = None,
                 at: str = "") -> T:
    """``cls(**data)`` after checking the keys; a field typed as a dataclass (or ``X | None``, or
    ``dict[str, X]``) whose value is a mapping is built the same way, its keys checked under ``at.field``."""
    if not isinstance(data, Mapping):
        where = f"{source}: " if source else ""
        raise ConfigError(f"{where}{what}{f' {at}' if at else ''} must be a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    check_keys(data, fields, what, source, at)
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in data.items():
        path = f"{at}.{name}" if at else name
        values[name] = _nested(hints.get(name), value, what, source, path)
    return cls(**values)


def _nested(hint: Any, value: Any, what: str, source: str | Path | None, at: str) -> Any:
    if not isinstance(value, Mapping):
        return value
    target = _dataclass_in(hint)
    if target is not None:
        return to_dataclass(target, value, what, source, at)
    origin = typing.get_origin(hint)
    if origin in (dict, Mapping) and len(typing.get_args(hint)) == 2:
        inner = _dataclass_in(typing.get_args(hint)[1])
        if inner is not None:
            return {k: to_dataclass(inner, v, what, source, f"{at}.{k}") if isinstance(v, Mapping) else v
                    for k, v in value.items()}
    return value


def _dataclass_in(hint: Any) -> type | None:
    """The dataclass ``hint`` names (also as ``X | None``), else None."""
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        found = [a for a in typing.get_args(hint) if isinstance(a, type) and dataclasses.is_dataclass(a)]
        return found[0] if len(found) == 1 else None
    return None


def shipped_configs(kind: str) -> list[str]:
    """Names of the configs of ``kind`` (train, build, demo) shipped inside the package."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return sorted(p.stem for p in (CONFIG_DIR / kind).glob("*.yaml"))


def find_config(name_or_path: str | Path, kind: str) -> Path:
    """An existing file ``name_or_path``, else the shipped ``<kind>`` config of that name; a `ConfigError`
    listing the shipped names when neither exists."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    text = str(name_or_path)
    looks_like_name = "/" not in text and "\\" not in text and path.suffix not in SUFFIXES
    shipped = shipped_configs(kind)
    if looks_like_name and text in shipped:
        return CONFIG_DIR / kind / f"{text}.yaml"
    names = ", ".join(shipped) or "none"
    if looks_like_name:
        raise ConfigError(f"no {kind} config named {text!r} and no such file; shipped {kind} configs: {names}")
    raise ConfigError(f"{kind} config {text}: no such file (shipped {kind} configs, by name: {names})")

