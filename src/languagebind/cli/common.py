"""Options and helpers shared by the inference sub-commands (embed, similarity, classify)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from languagebind.errors import InputError
from languagebind.registry import get_modality

if TYPE_CHECKING:
    from languagebind.api import LanguageBind

def extensions(modality: str) -> tuple[str, ...]:
    """File name endings ``modality`` is looked for under when a directory is given (its spec's ``extensions``)."""
    return get_modality(modality).extensions


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--checkpoint (repeatable), --device, --precision, --batch-size."""
    parser.add_argument("--checkpoint", action="append", required=True, metavar="[MODALITY=]DIR_OR_HUB_ID",
                        help="checkpoint directory (official or ours) or Hugging Face Hub id (ORG/NAME[@REVISION]; "
                             "cache: HF_HUB_CACHE / HF_HOME, offline: HF_HUB_OFFLINE=1); repeat to load several "
                             "modalities")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    parser.add_argument("--precision", default="fp32", help="fp32 (default, official numerics), bf16, fp16, int8, "
                        "ort-fp32, ort-int8 (ONNX Runtime) or auto (the fastest faithful mode, timed here)")
    parser.add_argument("--batch-size", type=int, default=16, help="items per forward pass (default 16)")


def load_model(args: argparse.Namespace) -> LanguageBind:
    """The model named by ``--checkpoint`` options."""
    from languagebind.api import LanguageBind

    specs = [parse_checkpoint(spec) for spec in args.checkpoint]
    if len(specs) == 1 and specs[0][0] is None:
        return LanguageBind.from_pretrained(specs[0][1], device=args.device, precision=args.precision)
    if any(modality is None for modality, _ in specs):
        raise InputError("--checkpoint", "with several checkpoints, write each as MODALITY=DIR")
    return LanguageBind.from_pretrained(dict(specs), device=args.device, precision=args.precision)


def parse_checkpoint(spec: str) -> tuple[str | None, Path]:
    modality, sep, directory = spec.partition("=")
    return (modality, Path(directory)) if sep else (None, Path(spec))


def pick_modality(model: LanguageBind, requested: str | None) -> str:
    """``--modality`` or the only loaded tower."""
    if requested:
        if requested not in model.modalities:
            raise InputError(requested, f"no such tower loaded (loaded: {', '.join(model.modalities)})")
        return requested
    if len(model.modalities) != 1:
        raise InputError("--modality", f"several towers are loaded ({', '.join(model.modalities)}); name one")
    return model.modalities[0]


def collect_files(paths: Sequence[str | Path], modality: str) -> list[Path]:
    """Files given directly, plus files under given directories with an ending of ``modality`` (sorted)."""
    if not paths:
        raise InputError("PATH", "no input paths given")
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in extensions(modality))
            if not found:
                raise InputError(path, f"directory has no {modality} files ({', '.join(extensions(modality))})")
            files.extend(found)
        else:
            files.append(path)  # missing or wrong files are reported by the processor
    return files


def report_failures(failures: Iterable[tuple[object, str]], command: str) -> int:
    """Print each skipped item to stderr; returns how many."""
    count = 0
    for item, reason in failures:
        print(f"languagebind {command}: skipped {item}: {reason}", file=sys.stderr)
        count += 1
    return count


def format_table(rows: Sequence[str], cols: Sequence[str], values: Sequence[Sequence[float]]) -> str:
    """A plain-text table: one row per item, one column per text (or other item)."""
    names = [_short_name(c) for c in cols]
    width = max([len(r) for r in rows] + [4])
    widths = [max(len(n), 7) for n in names]
    lines = [" " * width + "  " + "  ".join(n.rjust(w) for n, w in zip(names, widths, strict=True))]
    for row, vals in zip(rows, values, strict=True):
        cells = "  ".join(f"{v:.4f}".rjust(w) for v, w in zip(vals, widths, strict=True))
        lines.append(row.ljust(width) + "  " + cells)
    return "\n".join(lines)


def _short_name(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
