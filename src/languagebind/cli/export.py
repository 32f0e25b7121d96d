"""`languagebind export RUN_DIR --format official|safetensors --out DIR`: the run's model with LoRA merged,
loadable by `LanguageBind.from_pretrained` (and, in the official format, by the official code)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="a training run directory")
    parser.add_argument("--format", choices=("official", "safetensors"), default="safetensors",
                        help="safetensors: our format (default); official: config.json + pytorch_model.bin")
    parser.add_argument("--out", required=True, type=Path, help="output checkpoint directory")
    parser.add_argument("--checkpoint", type=Path, help="a checkpoint directory (default: the newest valid one)")


def run(args: argparse.Namespace) -> int:
    from languagebind.train.export import export_run

    out = export_run(args.run_dir, args.out, args.format, args.checkpoint)
    print(f"exported {args.run_dir} -> {out} ({args.format})")
    return 0
