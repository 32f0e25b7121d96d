"""`languagebind similarity`: cosine table of files against texts, or of files against files across towers."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from languagebind.cli.combine import (
    add_combine_arguments,
    check_combine_options,
    combined_queries,
    combined_scale,
)
from languagebind.cli.common import (
    add_model_arguments,
    collect_files,
    extensions,
    format_table,
    load_model,
    report_failures,
)
from languagebind.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--text", action="append", default=[], help="a text to compare against (repeatable)")
    parser.add_argument("--modality", help="modality of the PATHs when it cannot be told from the file ending")
    parser.add_argument("--softmax", action="store_true", help="softmax over texts with the learned scale")
    parser.add_argument("--json", action="store_true", help="print {rows, cols, scores} as JSON")
    parser.add_argument("--skip-bad", action="store_true", help="report and skip unreadable items instead of failing")
    add_combine_arguments(parser)
    parser.add_argument("paths", nargs="*", metavar="[MODALITY=]PATH",
                        help="files or directories (with --combine: what the combined queries are compared with)")


def group_paths(paths: list[str], loaded: list[str], default: str | None) -> dict[str, list[Path]]:
    """Assign every PATH to a loaded tower: ``modality=PATH``, ``--modality``, the only tower, or its ending."""
    groups: dict[str, list[str]] = {}
    for raw in paths:
        prefix, sep, rest = raw.partition("=")
        if sep and prefix in loaded:
            modality, path = prefix, rest
        elif default or len(loaded) == 1:
            modality, path = default or loaded[0], raw
        else:
            path = Path(raw)
            suffixes = {p.suffix.lower() for p in path.rglob("*")} if path.is_dir() else {path.suffix.lower()}
            matches = [m for m in loaded if suffixes & set(extensions(m))]
            if len(matches) != 1:
                raise InputError(raw, f"cannot tell its modality among {', '.join(loaded)}; write MODALITY=PATH")
            modality, path = matches[0], raw
        if modality not in loaded:
            raise InputError(raw, f"no {modality} tower loaded")
        groups.setdefault(modality, []).append(path)
    return {m: collect_files(p, m) for m, p in groups.items()}


def run(args: argparse.Namespace) -> int:
    check_combine_options(args)
    model = load_model(args)
    if not args.paths and not args.combine:
        raise InputError("PATH", "give files or directories, or --combine MODALITY=PATH,MODALITY=PATH")
    groups = group_paths(args.paths, model.modalities, args.modality) if args.paths else {}
    rows, blocks = [], []
    for modality, files in groups.items():
        result = model.encode_files(modality, files, batch_size=args.batch_size)
        if result.failures and not args.skip_bad:
            raise InputError(*result.failures[0])
        report_failures(result.failures, "similarity")
        rows.append([f"{modality}:{files[i]}" if len(groups) > 1 else str(files[i]) for i in result.indices])
        blocks.append((modality, result.embeddings))
    scales = [model.logit_scale(m) for m, b in blocks for _ in range(len(b))]
    if args.combine:  # combined queries are rows: against the texts (after any file rows), else the files
        combined = combined_queries(model, args, "similarity")
        if not args.text and not blocks:
            raise InputError("--text", "give --text, or files to compare the combined queries with")
        if args.text:
            cols, col_emb = list(args.text), model.encode("text", args.text)
            row_names = [r for group in rows for r in group] + combined.names
            row_emb = torch.cat([b for _, b in blocks] + [combined.embeddings])
        else:
            cols, col_emb = [r for group in rows for r in group], torch.cat([b for _, b in blocks])
            row_names, row_emb, scales = combined.names, combined.embeddings, []
        scales += [combined_scale(model, used) for used in combined.modalities]
    elif args.text:
        cols, col_emb = list(args.text), model.encode("text", args.text)
        row_names, row_emb = [r for group in rows for r in group], torch.cat([b for _, b in blocks])
    elif len(blocks) >= 2:
        row_names, row_emb = rows[0], blocks[0][1]
        cols, col_emb = [r for group in rows[1:] for r in group], torch.cat([b for _, b in blocks[1:]])
    else:
        raise InputError("--text", "give --text, or files of two modalities to compare with each other")
    if not row_names or not cols:
        return 1
    scores = model.similarity(row_emb, col_emb)
    if args.softmax and args.text:
        scores = (torch.tensor(scales).unsqueeze(1) * scores).softmax(dim=-1)
    if args.json:
        print(json.dumps({"rows": row_names, "cols": cols, "scores": scores.tolist()}))
    else:
        print(format_table(row_names, cols, scores.tolist()))
    return 0
