"""`languagebind build`: raw short videos -> keyframes, depth, infrared, audio, multi-view text -> shards.

    languagebind build --make-tiny-models ./tiny-models
    languagebind build --config tiny --input VIDEOS_DIR --out OUT [--models-dir DIR]
    languagebind build --config vidal --input manifest.jsonl --out OUT --executor ray

``--config`` is a file or the name of a shipped build config (``tiny``, ``vidal``). The config's variables come
from its ``vars`` defaults, ``--set`` and ``--models-dir`` only; the plan prints each with its source.

See docs/vidal-builder.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from languagebind.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="build config: a YAML file or a shipped name (tiny, vidal)")
    parser.add_argument("--input", type=Path, help="a directory of videos with sidecar metadata, or a .jsonl/.csv "
                                                   "manifest")
    parser.add_argument("--out", type=Path, help="output directory (resumable: re-run the same command)")
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="local: this machine, --workers processes (default); ray: Ray Data")
    parser.add_argument("--workers", type=int, default=1,
                        help="local: worker processes; ray: max actors per model stage (default 1)")
    parser.add_argument("--dry-run", action="store_true", help="show the plan and check the config, write nothing")
    parser.add_argument("--retry-failed", action="store_true",
                        help="also re-run the failed inputs of finished shards (and nothing else that is done)")
    parser.add_argument("--models-dir", help="value of ${models_dir} in the config (default: the config's)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="set a variable declared under the config's vars (repeatable)")
    parser.add_argument("--shard-size", type=int, help="inputs per shard (default: the config's)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar (default: when stderr is a terminal)")
    parser.add_argument("--make-tiny-models", type=Path, metavar="DIR",
                        help="write tiny random stand-ins for every pluggable model to DIR and exit")


def run(args: argparse.Namespace) -> int:
    if args.make_tiny_models:
        return make_tiny(args.make_tiny_models)
    missing = [name for name in ("config", "input", "out") if getattr(args, name) is None]
    if missing:
        raise ConfigError("missing " + ", ".join(f"--{m}" for m in missing)
                          + " (or use --make-tiny-models DIR)")
    from languagebind.vidal.builder import build
    from languagebind.vidal.plan import load_config

    overrides = dict(_parse_set(item) for item in args.set)
    sources = {name: "--set" for name in overrides}
    if args.models_dir:
        overrides["models_dir"] = args.models_dir
        sources["models_dir"] = "--models-dir"
    config = load_config(args.config, overrides, shard_size=args.shard_size, sources=sources)
    print(f"config: {config.path}" + (f"; variables:\n{config.describe_variables()}" if config.variables else ""),
          file=sys.stderr)
    result = build(config, args.input, args.out, executor=args.executor, workers=args.workers,
                   retry_failed=args.retry_failed, dry_run=args.dry_run, progress=args.progress)
    return 1 if result.errors else 0


def make_tiny(directory: Path) -> int:
    from languagebind.vidal.tiny_models import make_tiny_models

    written = make_tiny_models(directory)
    print(f"wrote {len(written)} tiny models to {directory}: {', '.join(p.name for p in written)}")
    print(f"use them with: languagebind build --config tiny --models-dir {directory} --input VIDEOS --out OUT",
          file=sys.stderr)
    return 0


def _parse_set(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name:
        raise ConfigError(f"--set {item!r}: expected NAME=VALUE")
    return name.strip(), value
