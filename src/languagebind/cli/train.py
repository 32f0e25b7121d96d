"""`languagebind train --config FILE --out RUN_DIR [--resume auto] [--set KEY=VALUE ...]`.

Run it under ``torchrun --nproc_per_node N -m languagebind train ...`` for DDP (gloo on CPU, nccl on GPU).
RUN_DIR receives config.json, metrics.jsonl, skipped.jsonl and checkpoints/; export it with `languagebind export`.

Besides paths, ``train_data`` / ``val_data`` may name the built-in generated dataset VIDAL-mini:
``synthetic:<preset>:<split>[:manifest|shards|official]`` (preset ``tiny`` or ``demo``; split ``train``, ``val``,
``test``, ``compositional``). It is generated once (seeded, ~2 s for tiny) under ``RUN_DIR/data/``
(``languagebind.data.synthetic.spec``).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="YAML / JSON / TOML config (see configs/train/)")
    parser.add_argument("--out", required=True, type=Path, help="run directory")
    parser.add_argument("--resume", metavar="auto|CHECKPOINT_DIR",
                        help="'auto': continue from the newest valid checkpoint in RUN_DIR (if any)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key (repeatable; VALUE is YAML, e.g. lr=1e-4, augment=false)")


def run(args: argparse.Namespace) -> int:
    from languagebind.data.synthetic.spec import resolve_synthetic
    from languagebind.train.distributed import barrier, init_distributed, shutdown
    from languagebind.train.loop import train
    from languagebind.train.recipe import TrainConfig
    from languagebind.utils.torchrun import torchrun_env

    rank = torchrun_env().rank
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
