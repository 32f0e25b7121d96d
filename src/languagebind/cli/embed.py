"""`languagebind embed`: files -> L2-normalised embeddings (.npy) + one JSON line per row (.jsonl)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from languagebind.cli.common import add_model_arguments, collect_files, load_model, pick_modality, report_failures
from languagebind.errors import InputError
from languagebind.utils.io import atomic_write, save_npy_atomic


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--modality", help="tower to use (default: the only one loaded)")
    parser.add_argument("--out", required=True, type=Path,
                        help="output .npy (N,P) float32; row metadata goes to the same name with .jsonl")
    parser.add_argument("--skip-bad", action="store_true", help="report and skip unreadable items instead of failing")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bar")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")


def run(args: argparse.Namespace) -> int:
    if args.out.suffix != ".npy":
        raise InputError(args.out, "--out must end in .npy")
    model = load_model(args)
    modality = pick_modality(model, args.modality)
    files = collect_files(args.paths, modality)
    if args.skip_bad:
        result = model.encode_files(modality, files, batch_size=args.batch_size, progress=args.progress)
        skipped = report_failures(result.failures, "embed")
        embeddings, kept = result.embeddings, [files[i] for i in result.indices]
    else:
        embeddings = model.encode(modality, files, batch_size=args.batch_size, progress=args.progress)
        skipped, kept = 0, files
    if not kept:
        print(f"languagebind embed: no good {modality} items among {len(files)}", file=sys.stderr)
        return 1
    write_embeddings(args.out, embeddings.numpy(), [str(p) for p in kept])
    print(f"wrote {len(kept)} x {embeddings.shape[1]} {modality} embeddings to {args.out}"
          + (f" ({skipped} skipped)" if skipped else ""))
    return 0


def write_embeddings(out: Path, embeddings, paths: list[str]) -> None:
    """``out`` (.npy) and its ``.jsonl`` sidecar, each written atomically (metadata first)."""
    with atomic_write(out.with_suffix(".jsonl"), "w") as handle:
        for index, path in enumerate(paths):
            handle.write(json.dumps({"path": path, "index": index}) + "\n")
    save_npy_atomic(out, embeddings.astype("float32"))
