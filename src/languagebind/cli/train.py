"""`languagebind train --config FILE --out RUN_DIR [--resume auto] [--set KEY=VALUE ...]`.

Run it under ``torchrun --nproc_per_node N -m languagebind train ...`` for DDP (gloo on CPU, nccl on GPU).
RUN_DIR receives config.json, metrics.jsonl, skipped.jsonl and checkpoints/; export it with `languagebind export`.

Besides paths, ``train_data`` / ``val_data`` may name the built-in generated dataset VIDAL-mini:
``synthetic:<preset>:<split>[:manifest|shards|official]`` (preset ``tiny`` or ``demo``; split ``train``, ``val``,
``test``, ``compositional``). It is generated once (seeded, ~2 s for tiny) under ``RUN_DIR/data/``.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

SYNTHETIC_FORMATS = ("manifest", "shards", "official")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="YAML / JSON / TOML config (see configs/train/)")
    parser.add_argument("--out", required=True, type=Path, help="run directory")
    parser.add_argument("--resume", metavar="auto|CHECKPOINT_DIR",
                        help="'auto': continue from the newest valid checkpoint in RUN_DIR (if any)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key (repeatable; VALUE is YAML, e.g. lr=1e-4, augment=false)")


def run(args: argparse.Namespace) -> int:
    from languagebind.train.distributed import barrier, init_distributed, shutdown
    from languagebind.train.loop import train
    from languagebind.train.recipe import TrainConfig

    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING,
                        format=f"%(asctime)s [rank {rank}] %(levelname)s %(message)s")
    cfg = TrainConfig.load(args.config, args.overrides)
    info = init_distributed(cfg.device)
    if rank == 0:
        resolve_synthetic(cfg, args.out)  # generate first, alone ...
    barrier(info)
    resolve_synthetic(cfg, args.out)  # ... then every rank reuses it
    try:
        result = train(cfg, args.out, resume=args.resume)
    finally:
        shutdown(info)
    if rank == 0:
        last = result.history[-1] if result.history else {}
        summary = ", ".join(f"{k}={v:.4g}" for k, v in last.items() if isinstance(v, float))
        print(f"trained {result.steps} steps -> {result.checkpoint}" + (f" ({summary})" if summary else ""))
    return 0


def resolve_synthetic(cfg: Any, run_dir: Path) -> None:
    """Replace ``synthetic:...`` data specs of ``cfg`` (in place) by paths to generated VIDAL-mini data."""
    for data_key, root_key in (("train_data", "data_root"), ("val_data", "val_data_root")):
        spec = getattr(cfg, data_key)
        if isinstance(spec, str) and spec.startswith("synthetic:"):
            path, root = synthetic_data(spec, run_dir)
            setattr(cfg, data_key, path)
            if root is not None:
                setattr(cfg, root_key, root)


def synthetic_data(spec: str, run_dir: Path) -> tuple[str, str | None]:
    """``synthetic:<preset>:<split>[:<format>]`` -> (data spec, data root or None), generating when needed."""
    from languagebind.data.synthetic import SPLITS, SyntheticConfig, generate
    from languagebind.errors import ConfigError

    parts = spec.split(":")[1:]
    if len(parts) == 2:
        parts.append("manifest")
    valid = len(parts) == 3 and parts[0] in ("tiny", "demo") and parts[1] in SPLITS and parts[2] in SYNTHETIC_FORMATS
    if not valid:
        forms = "|".join(SYNTHETIC_FORMATS)
        raise ConfigError(f"{spec!r}: expected synthetic:<tiny|demo>:<{'|'.join(SPLITS)}>[:<{forms}>]")
    preset, split, form = parts
    config = SyntheticConfig.tiny(official_layout=True) if preset == "tiny" else SyntheticConfig(official_layout=True)
    info = generate(Path(run_dir) / "data" / f"vidal-mini-{preset}", config, workers=0)[split]
    if form == "manifest":
        return str(info.manifest), None
    if form == "shards":
        return str(info.shards[0].parent), None
    return str(info.official_annotation), str(info.official_root)
