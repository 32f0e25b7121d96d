"""Build configs (YAML): variables, the stage list, shard size; validated before anything runs.

::

    vars:
      models_dir: ./tiny-models          # ${models_dir} below; override with --models-dir / --set models_dir=...
    shard_size: 16
    stages:
      - {kind: probe, max_duration: 20}
      - {kind: depth, model: "${models_dir}/depth-glpn", batch_size: 2, gpus: 1}
      - ...
      - {kind: pack, official: true}

A variable's value comes from the command line (``--set NAME=VALUE``; ``--models-dir`` sets ``models_dir``) or
else its default under ``vars`` -- nothing else (no environment variable, no remembered directory), so a build is
reproduced from its config and flags. ``BuildConfig.sources`` says where each value came from; the plan prints it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from languagebind.errors import ConfigError
from languagebind.utils.configfile import check_keys, find_config, read_config
from languagebind.vidal.operators import BASE_FIELDS, Operator, operator_class

TOP_LEVEL = ("vars", "shard_size", "stages")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class BuildConfig:
    """Stages in order and how inputs are grouped into shards."""

    stages: list[Operator]
    shard_size: int = 64
    variables: dict[str, str] = dataclasses.field(default_factory=dict)
    path: str = ""
    sources: dict[str, str] = dataclasses.field(default_factory=dict)  # variable -> "vars default" | "--set ..."

    def describe_variables(self) -> str:
        """One line per variable: its value and where the value came from."""
        return "\n".join(f"  ${{{name}}} = {value}  ({self.sources.get(name, 'vars default')})"
                         for name, value in self.variables.items())

    def describe(self) -> dict[str, Any]:
        return {"shard_size": self.shard_size, "stages": [op.describe() for op in self.stages]}

    def fingerprint(self) -> str:
        """Hash of everything that changes the outputs (stages and their options, shard size)."""
        return hashlib.sha256(json.dumps(self.describe(), sort_keys=True, default=str).encode()).hexdigest()


def load_config(path: str | Path, overrides: Mapping[str, str] | None = None, shard_size: int | None = None,
                sources: Mapping[str, str] | None = None) -> BuildConfig:
    """Parse, substitute variables, build and validate the stages of the config at ``path`` (a file, or the name
    of a shipped build config: ``tiny``, ``vidal``). ``overrides`` set declared variables; ``sources`` names
    where each override came from (default ``--set``), for the plan."""
    path = find_config(path, "build")
    raw = read_config(path, "build config")
    check_keys(raw, TOP_LEVEL, "", f"build config {str(path)!r}")
    variables, origins = resolve_variables(raw.get("vars") or {}, overrides or {}, sources or {})
    stage_specs = substitute(raw.get("stages") or [], variables)
    if not isinstance(stage_specs, list) or not stage_specs:
        raise ConfigError(f"build config {str(path)!r}: 'stages' must be a non-empty list")
    stages = [make_stage(spec, position) for position, spec in enumerate(stage_specs)]
    validate(stages)
    size = int(shard_size or raw.get("shard_size") or 64)
    if size < 1:
        raise ConfigError("shard_size must be >= 1")
    return BuildConfig(stages=stages, shard_size=size, variables=variables, path=str(path), sources=origins)


def resolve_variables(defaults: Mapping[str, Any], overrides: Mapping[str, str],
                      sources: Mapping[str, str] | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """Values of the declared variables (an override, else the default) and where each came from."""
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise ConfigError(f"--set {unknown[0]}=...: the config declares no such variable "
                          f"(declared under vars: {', '.join(defaults) or 'none'})")
    values, origins = {}, {}
    for name, default in defaults.items():
        overridden = name in overrides and overrides[name] != ""
        values[name] = str(overrides[name] if overridden else default)
        origins[name] = (sources or {}).get(name, "--set") if overridden else "vars default"
    return values, origins


def substitute(value: Any, variables: dict[str, str]) -> Any:
    """``${name}`` replaced in every string of a nested structure."""
    if isinstance(value, str):
        def lookup(match: re.Match[str]) -> str:
            if match.group(1) not in variables:
                raise ConfigError(f"${{{match.group(1)}}} is not declared under vars")
            return variables[match.group(1)]
        return _VARIABLE.sub(lookup, value)
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, variables) for k, v in value.items()}
    return value


def make_stage(spec: Any, position: int) -> Operator:
    if not isinstance(spec, dict) or "kind" not in spec:
        raise ConfigError(f"stage #{position + 1}: expected a mapping with a 'kind'")
    options = dict(spec)
    cls = operator_class(options.pop("kind"))
    valid = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(options) - valid)
    if unknown:
        raise ConfigError(f"stage #{position + 1} ({cls.kind}): unknown option(s) {unknown}; "
                          f"valid: {', '.join(sorted(valid))}")
    return cls(**options)


def validate(stages: list[Operator]) -> None:
    """Unique names; every stage's inputs written by an earlier stage; the last stage packs."""
    names = [op.name for op in stages]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"stage names must be unique (give 'name:'): {duplicates}")
    available = set(BASE_FIELDS)
    for op in stages:
        missing = [name for name in op.inputs if name not in available]
        if missing:
            raise ConfigError(f"stage {op.name} reads {missing}, which no earlier stage writes")
        available |= set(op.outputs)
    if stages[-1].kind != "pack":
        raise ConfigError("the last stage must be 'pack' (it encodes the shard members)")
