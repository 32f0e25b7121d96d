"""`languagebind classify`: zero-shot labels for files (softmax of the learned scale times cosine)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from languagebind.cli.common import add_model_arguments, collect_files, load_model, pick_modality, report_failures
from languagebind.errors import InputError


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
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")


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
    model = load_model(args)
    modality = pick_modality(model, args.modality)
    templates = read_lines(args.templates, "templates") if args.templates else None
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
    k = max(1, min(args.top_k, len(labels)))
    scores, idx = probs.topk(k, dim=1)
    for row, file_index in enumerate(result.indices):
        top = [(labels[i], float(s)) for i, s in zip(idx[row].tolist(), scores[row], strict=True)]
        if args.json:
            print(json.dumps({"path": str(files[file_index]), "labels": [{"label": lab, "score": round(s, 6)}
                                                                        for lab, s in top]}))
        else:
            print("\t".join([str(files[file_index])] + [f"{lab}\t{s:.4f}" for lab, s in top]))
    return 0
