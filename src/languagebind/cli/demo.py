"""``languagebind demo``: train five small towers (``--preset nmodal``: seven, with point clouds and IMU) on built-in
synthetic data against a frozen MiniLM and show that they align with one another through language (emergent
cross-modal retrieval)."""

from __future__ import annotations

import argparse
import sys

from languagebind.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="runs/demo", help="output directory (default runs/demo)")
    parser.add_argument("--fresh", action="store_true", help="retrain the towers even when trained ones exist")
    parser.add_argument("--checkpoint", action="append", default=[], metavar="MODALITY=DIR_OR_HUB_ID",
                        help="evaluate and search with this checkpoint (a directory or a Hub id) instead of training "
                             "(repeatable)")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a smaller, faster run (the 'quick' preset)")
    size.add_argument("--config", "--preset", dest="config", default=None,
                      help="a preset name in configs/demo/ (default, quick, nmodal: all seven towers, with point "
                           "clouds and IMU) or a YAML file (default: 'default')")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--only", choices=("data",), default=None,
                        help="run only this first stage and stop (data: generate or reuse the preset's VIDAL-mini "
                             "under OUT/data)")


def parse_checkpoints(specs: list[str]) -> dict[str, str]:
    """``["video=DIR", ...]`` -> ``{"video": "DIR"}``."""
    from languagebind.registry import is_modality, modality_names

    out = {}
    for spec in specs:
        modality, sep, directory = spec.partition("=")
        if not sep or not directory:
            raise InputError(spec, "write --checkpoint as MODALITY=DIR")
        if not is_modality(modality):
            raise InputError(modality, f"unknown modality; known: {', '.join(modality_names())}")
        out[modality] = directory
    return out


def run(args: argparse.Namespace) -> int:
    import os

    from languagebind.hub import resolve_checkpoint

    # Hub ids are resolved (fetched if online) before the demo's own towers are made offline-only.
    checkpoints = {m: resolve_checkpoint(spec) for m, spec in parse_checkpoints(args.checkpoint).items()}
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is fetched: the language tower ships in a package
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from pathlib import Path

    from languagebind.demo.presets import load_config
    from languagebind.demo.run import generate_data, run_demo
    from languagebind.demo.table import format_table

    config = load_config("quick" if args.quick else args.config or "default")

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if args.only == "data":
        splits = generate_data(Path(args.out), config, progress=False if args.no_progress else sys.stderr.isatty(),
                               log=log)
        print(f"VIDAL-mini in {Path(args.out) / 'data'}: "
              + ", ".join(f"{name} {len(split.ids)} items" for name, split in splits.items()))
        return 0
    result = run_demo(args.out, config, fresh=args.fresh, checkpoints=checkpoints or None,
                      progress=False if args.no_progress else None, log=log)
    print(format_table(result.metrics))
    print(f"\nwrote {result.out_dir / 'metrics.json'} and {result.out_dir / 'report.html'}\n")
    print("\n".join(result.search))
    return 0
