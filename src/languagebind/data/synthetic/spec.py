"""Data specs naming VIDAL-mini: ``synthetic:<preset>:<split>[:manifest|shards|official]`` -> paths of the
generated data (generated once, seeded, under ``<run dir>/data/``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from languagebind.data.synthetic.generate import generate
from languagebind.data.synthetic.options import SPLITS, SyntheticConfig
from languagebind.errors import ConfigError

PREFIX = "synthetic:"
PRESETS = ("tiny", "demo")
FORMATS = ("manifest", "shards", "official")
# (data key, data-root key) of a training config that may hold a synthetic spec
DATA_KEYS = (("train_data", "data_root"), ("val_data", "val_data_root"))


def resolve_synthetic(cfg: Any, run_dir: Path) -> None:
    """Replace ``synthetic:...`` data specs of ``cfg`` (in place) by paths to generated VIDAL-mini data."""
    for data_key, root_key in DATA_KEYS:
        spec = getattr(cfg, data_key)
        if isinstance(spec, str) and spec.startswith(PREFIX):
            path, root = synthetic_data(spec, run_dir)
            setattr(cfg, data_key, path)
            if root is not None:
                setattr(cfg, root_key, root)


def synthetic_data(spec: str, run_dir: Path) -> tuple[str, str | None]:
    """``synthetic:<preset>:<split>[:<format>]`` -> (data spec, data root or None), generating when needed."""
    parts = spec.split(":")[1:]
    if len(parts) == 2:
        parts.append("manifest")
    valid = len(parts) == 3 and parts[0] in PRESETS and parts[1] in SPLITS and parts[2] in FORMATS
    if not valid:
        forms = "|".join(FORMATS)
        raise ConfigError(f"{spec!r}: expected synthetic:<{'|'.join(PRESETS)}>:<{'|'.join(SPLITS)}>[:<{forms}>]")
    preset, split, form = parts
    config = SyntheticConfig.tiny(official_layout=True) if preset == "tiny" else SyntheticConfig(official_layout=True)
    info = generate(Path(run_dir) / "data" / f"vidal-mini-{preset}", config, workers=0)[split]
    if form == "manifest":
        return str(info.manifest), None
    if form == "shards":
        return str(info.shards[0].parent), None
    return str(info.official_annotation), str(info.official_root)
