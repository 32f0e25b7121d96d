"""`languagebind embed`: files -> L2-normalised embeddings (.npy) + one JSON line per row (.jsonl).

``--out X.npy`` embeds the given files in one go. ``languagebind embed DIR --out OUT_DIR`` (no ``.npy``) embeds a
whole collection into resumable shards (``languagebind.collection.embed``); run it under ``torchrun`` to share
the work between processes or machines.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from languagebind.cli.common import (
    add_model_arguments,
    collect_files,
    extensions,
    load_model,
    pick_modality,
    report_failures,
)
from languagebind.errors import InputError
from languagebind.utils.io import atomic_write, save_npy_atomic
from languagebind.utils.torchrun import Launch, torchrun_env


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--modality", help="tower to use (default: the only one loaded)")
    parser.add_argument("--out", required=True, type=Path,
                        help="output .npy (N,P) float32 (row metadata goes to the same name with .jsonl); or, "
                             "without .npy, the output directory of a collection (DIR mode: shards, resumable)")
    parser.add_argument("--skip-bad", action="store_true",
                        help="report and skip unreadable items instead of failing (always on in DIR mode)")
    parser.add_argument("--shard-size", type=int, default=1024, help="files per output shard in DIR mode")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bar")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")


def run(args: argparse.Namespace) -> int:
    if args.out.suffix != ".npy":
        return run_collection(args)
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


def run_collection(args: argparse.Namespace) -> int:
    """DIR mode: this process's shards of the collection (rank and world from ``torchrun``'s environment)."""
    from languagebind.collection.embed import CollectionSettings, embed_collection

    if len(args.paths) != 1 or not Path(args.paths[0]).is_dir():
        raise InputError(args.out, "without a .npy suffix --out is a collection output directory; give exactly "
                                   "one input DIR (or end --out in .npy to embed a list of files)")
    launch = torchrun_env()
    rank, world = launch.rank, launch.world_size
    _use_local_gpu(args, launch)
    model = load_model(args)
    modality = pick_modality(model, args.modality)
    settings = CollectionSettings(modality, extensions(modality), args.shard_size, args.batch_size)
    summary = embed_collection(model, args.paths[0], args.out, settings, rank, world, args.progress,
                               on_failure=lambda row: report_failures([(row["id"], row["reason"])], "embed"))
    state = "complete" if summary.complete else "not complete yet (other ranks, or run again to resume)"
    print(f"rank {rank}/{world}: embedded {summary.embedded_shards} shards ({summary.rows} files, "
          f"{summary.failures} skipped), {summary.finished_before} were finished before; {summary.files} files in "
          f"{summary.shards} shards, collection {state}: {args.out}")
    return 0


def _use_local_gpu(args: argparse.Namespace, launch: Launch) -> None:
    """Under torchrun with CUDA, each local rank takes its own GPU unless --device says otherwise."""
    import torch

    if args.device is None and torch.cuda.is_available() and launch.launched:
        args.device = f"cuda:{launch.local_rank}"
