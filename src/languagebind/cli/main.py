"""The `languagebind` console script: one sub-command per module in this package.

Each sub-command module defines ``add_arguments(parser)`` and ``run(args) -> int`` and imports heavy
dependencies inside ``run`` so that ``languagebind --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from languagebind.errors import LanguageBindError

# sub-command name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "embed": ("languagebind.cli.embed", "embed files into the shared space (.npy + .jsonl)"),
    "similarity": ("languagebind.cli.similarity", "similarity table of files against texts or other files"),
    "classify": ("languagebind.cli.classify", "zero-shot classify files against labels"),
    "train": ("languagebind.cli.train", "bind a modality to the frozen language tower"),
    "export": ("languagebind.cli.export", "export a training run as a checkpoint"),
    "import-official": ("languagebind.cli.import_official", "convert an official trainer's epoch_N.pt to a checkpoint"),
    "eval": ("languagebind.cli.eval", "zero-shot evaluation on a public benchmark layout"),
    "demo": ("languagebind.cli.demo", "train and evaluate a small LanguageBind on built-in data"),
    "build": ("languagebind.cli.build", "build a VIDAL-style aligned dataset from raw short videos"),
    "modalities": ("languagebind.cli.modalities", "list the registered modalities (built-in and plug-ins)"),
    "index": ("languagebind.cli.index", "build, extend and inspect vector indexes over embedded collections"),
    "serve": ("languagebind.cli.serve", "search an index over HTTP: API, clip-retrieval API and a web page"),
}


def build_parser(available: dict[str, tuple[str, str]] | None = None) -> argparse.ArgumentParser:
    """The argument parser with every sub-command whose module is present."""
    parser = argparse.ArgumentParser(
        prog="languagebind",
        description="LanguageBind: video, audio, depth, thermal, images and any registered modality bound to "
                    "language in one embedding space.")
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                        help="import a modality plug-in module first (repeatable); installed plug-ins are found "
                             "through the 'languagebind.modalities' entry points without it")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in (available or COMMANDS).items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name == module_name:
                continue  # not built yet
            raise
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(_run=module.run)
    return parser


def opt_in_process_tuning() -> None:
    """What a program may do and the library does not: keep freed memory in the heap for reuse (glibc; see
    ``languagebind.precision.memory``; ``LANGUAGEBIND_MALLOC_TUNING=0`` turns it off). Imported here, after the
    arguments are parsed, so that ``languagebind --help`` does not import torch."""
    from languagebind.precision import tune_cpu_allocator

    tune_cpu_allocator()


def load_plugins(modules: Sequence[str]) -> None:
    """Import each ``--plugin`` module (it registers its modalities)."""
    if modules:
        from languagebind.registry import load_plugin

        for module in modules:
            load_plugin(module)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the sub-command; returns the process exit code."""
    args = build_parser().parse_args(argv)
    opt_in_process_tuning()
    try:
        load_plugins(args.plugin)
        return int(args._run(args) or 0)
    except LanguageBindError as err:
        print(f"languagebind {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"languagebind {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
