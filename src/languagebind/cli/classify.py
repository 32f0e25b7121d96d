"""`languagebind classify`: zero-shot labels for files (softmax of the learned scale times cosine)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from languagebind.cli.combine import (
    add_combine_arguments,
    check_combine_options,
    combined_queries,
    combined_scale,
)
from languagebind.cli.common import add_model_arguments, collect_files, load_model, pick_modality, report_failures
from languagebind.errors import InputError

if TYPE_CHECKING:
    from languagebind.api import LanguageBind


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--modality", help="tower to use (default: the only one loaded)")
    parser.add_argument("--labels", required=True, help="comma-separated class names, or @FILE with one per line")
    parser.add_argument("--templates", type=Path,
                        help="file with one prompt template per line, each with '{}' (default: the modality's "
                             "own, shown by `languagebind modalities`)")
    parser.add_argument("--top-k", type=int, default=1, help="labels to print per file (default 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per file")
    parser.add_argument("--skip-bad", action="store_true", help="report and skip unreadable items instead of failing")
    add_combine_arguments(parser)
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files or directories (or use --combine)")


def read_lines(path: Path, what: str) -> list[str]:
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(path, f"cannot read {what} ({err})") from err
    lines = [line for line in lines if line and not line.startswith("#")]
    if not lines:
        raise InputError(path, f"no {what} in the file")
    return lines


def run(args: argparse.Namespace) -> int:
    labels = (read_lines(Path(args.labels[1:]), "labels") if args.labels.startswith("@")
              else [x.strip() for x in args.labels.split(",") if x.strip()])
    if len(labels) < 2:
        raise InputError(args.labels, "give at least two labels")
    check_combine_options(args)
    model = load_model(args)
    templates = read_lines(args.templates, "templates") if args.templates else None
    if args.combine:
        if args.paths:
            raise InputError("PATH", "with --combine, name the files in --combine only")
        return _classify_combined(model, args, labels, templates)
    if not args.paths:
        raise InputError("PATH", "give files or directories, or --combine MODALITY=PATH,MODALITY=PATH")
    modality = pick_modality(model, args.modality)
    files = collect_files(args.paths, modality)
    result = model.encode_files(modality, files, batch_size=args.batch_size)
    if result.failures and not args.skip_bad:
        item, reason = result.failures[0]
        raise InputError(item, reason)
    report_failures(result.failures, "classify")
    if not result.indices:
        return 1
    kwargs = {"templates": templates} if templates else {}
    probs = model.classify(modality, result.embeddings, labels, **kwargs).probs
    _print_top(args, labels, probs, [str(files[i]) for i in result.indices])
    return 0


def _classify_combined(model: LanguageBind, args: argparse.Namespace, labels: list[str],
                       templates: list[str] | None) -> int:
    """Each ``--combine`` query against the labels: softmax of the towers' mean learned scale times cosine."""
    combined = combined_queries(model, args, "classify")
    if not combined.names:
        return 1
    classes = model.label_embeddings(labels, templates) if templates else model.label_embeddings(labels)
    scale = torch.tensor([combined_scale(model, used) for used in combined.modalities]).unsqueeze(1)
    _print_top(args, labels, (scale * model.similarity(combined.embeddings, classes)).softmax(dim=-1), combined.names)
    return 0


def _print_top(args: argparse.Namespace, labels: list[str], probs: torch.Tensor, names: list[str]) -> None:
    k = max(1, min(args.top_k, len(labels)))
    scores, idx = probs.topk(k, dim=1)
    for row, name in enumerate(names):
        top = [(labels[i], float(s)) for i, s in zip(idx[row].tolist(), scores[row], strict=True)]
        if args.json:
            print(json.dumps({"path": name, "labels": [{"label": lab, "score": round(s, 6)} for lab, s in top]}))
        else:
            print("\t".join([name] + [f"{lab}\t{s:.4f}" for lab, s in top]))
