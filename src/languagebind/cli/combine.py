"""``--combine MODALITY=PATH,MODALITY=PATH`` for `similarity` and `classify`: one query made of several files.

Each file is encoded by its tower, and the unit embeddings are summed with ``--weights`` (1 each by default)
and renormalised (``LanguageBind.combine``; docs/evaluation.md, "Combined queries").
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from languagebind.cli.common import report_failures
from languagebind.errors import InputError

if TYPE_CHECKING:
    from languagebind.api import LanguageBind


def add_combine_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--combine", action="append", default=[], metavar="MODALITY=PATH,MODALITY=PATH",
                        help="one query made of several files, e.g. video=a.mp4,audio=a.wav (repeatable)")
    parser.add_argument("--weights", metavar="MODALITY=W,...",
                        help="weights of the modalities in --combine (default 1 each)")
    parser.add_argument("--temperature", action="store_true",
                        help="with --combine: scale each weight by the tower's learned exp(logit_scale), like "
                             "summing the official wrapper's use_temp=True outputs")


def check_combine_options(args: argparse.Namespace) -> None:
    """``--weights`` and ``--temperature`` only make sense with ``--combine``."""
    for option, value in (("--weights", args.weights), ("--temperature", args.temperature)):
        if value and not args.combine:
            raise InputError(option, "applies to --combine queries")


@dataclass
class CombinedQueries:
    """The combined queries that could be read: their names and (Q, P) embeddings."""

    names: list[str]
    embeddings: torch.Tensor
    modalities: list[list[str]]


def parse_combine(spec: str, loaded: list[str]) -> dict[str, Path]:
    """``video=a.mp4,audio=a.wav`` -> ``{"video": Path("a.mp4"), "audio": Path("a.wav")}`` (towers checked)."""
    out: dict[str, Path] = {}
    for part in spec.split(","):
        modality, sep, path = part.partition("=")
        modality = modality.strip()
        if not sep or not modality or not path.strip():
            raise InputError(spec, f"expected MODALITY=PATH,MODALITY=PATH, got {part!r}")
        if modality not in loaded:
            raise InputError(spec, f"no {modality} tower loaded (loaded: {', '.join(loaded)})")
        if modality in out:
            raise InputError(spec, f"{modality} is given twice")
        out[modality] = Path(path.strip())
    if len(out) < 2:
        raise InputError(spec, "name at least two modalities to combine")
    return out


def parse_weights(text: str | None) -> dict[str, float] | None:
    """``video=1,audio=0.5`` -> ``{"video": 1.0, "audio": 0.5}``."""
    if not text:
        return None
    out = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise InputError("--weights", f"expected NAME=WEIGHT, got {part!r}")
        try:
            out[key.strip()] = float(value)
        except ValueError as err:
            raise InputError("--weights", f"{key.strip()}: {value!r} is not a number") from err
    return out


def combined_queries(model: LanguageBind, args: argparse.Namespace, command: str) -> CombinedQueries:
    """Encode and combine every ``--combine`` query; an unreadable file fails, or with ``--skip-bad`` drops
    its query (reported on stderr)."""
    weights = parse_weights(args.weights)
    names, rows, used = [], [], []
    for spec in args.combine:
        files = parse_combine(spec, model.modalities)
        parts, failures = {}, []
        for modality, path in files.items():
            encoded = model.encode_files(modality, [path], batch_size=1)
            failures += encoded.failures
            if encoded.indices:
                parts[modality] = encoded.embeddings
        if failures:
            if not args.skip_bad:
                raise InputError(*failures[0])
            report_failures(failures, command)
            continue
        selected = None if weights is None else {m: _weight(weights, m, spec) for m in parts}
        rows.append(model.combine(parts, selected, temperature=args.temperature))
        names.append("+".join(f"{m}:{p}" for m, p in files.items()))
        used.append(list(files))
    width = rows[0].shape[1] if rows else 0
    return CombinedQueries(names, torch.cat(rows) if rows else torch.empty(0, width), used)


def _weight(weights: dict[str, float], modality: str, spec: str) -> float:
    if modality not in weights:
        raise InputError("--weights", f"no weight for {modality} (in --combine {spec})")
    return weights[modality]


def combined_scale(model: LanguageBind, modalities: list[str]) -> float:
    """The softmax scale of a combined query: the mean of its towers' learned ``exp(logit_scale)``."""
    return sum(model.logit_scale(m) for m in modalities) / len(modalities)
