"""`languagebind import-official RUN/checkpoints/epoch_N.pt --config DIR_OR_HUB_ID --out DIR`: an official trainer
checkpoint -> a checkpoint directory that loads like any other (docs/huggingface.md#official-trainer-checkpoints)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="the official trainer's epoch_N.pt (DDP 'module.' prefix or not)")
    parser.add_argument("--config", required=True, metavar="DIR_OR_HUB_ID",
                        help="the base checkpoint the run was configured from (directory or Hub id, e.g. "
                             "LanguageBind/LanguageBind_Thermal): its config, and the frozen text tower to check")
    parser.add_argument("--out", required=True, type=Path, help="output checkpoint directory")
    parser.add_argument("--format", choices=("safetensors", "official"), default="safetensors",
                        help="safetensors: our format (default); official: config.json + pytorch_model.bin")
    parser.add_argument("--keep-lora", action="store_true",
                        help="keep LoRA adapters separate (to continue LoRA tuning); default: merge them")
    parser.add_argument("--lora-alpha", type=float, default=None,
                        help="the run's --lora_alpha (not stored in the .pt; default: the base config's, else 16)")
    parser.add_argument("--results", action="append", default=[], type=Path, metavar="RESULTS_JSON",
                        help="a `languagebind eval` results.json of this tower, for the model card (repeatable)")
    parser.add_argument("--allow-text-change", action="store_true",
                        help="accept a text tower that differs from the base's (the official recipe freezes it)")


def run(args: argparse.Namespace) -> int:
    from languagebind.api import LanguageBind
    from languagebind.hub import CardInfo
    from languagebind.official_import import import_official

    imported = import_official(args.checkpoint, args.config, lora="keep" if args.keep_lora else "merge",
                               lora_alpha=args.lora_alpha, allow_text_change=args.allow_text_change)
    loaded = imported.pretrained
    model = LanguageBind(loaded.model, loaded.tokenizer, loaded.sources)
    run_name = f" of run {imported.name}" if imported.name else ""
    epoch = f"epoch {imported.epoch}" if imported.epoch is not None else "a state dict"
    note = f"imported from the official trainer's checkpoint ({epoch}{run_name}) with languagebind import-official"
    card = CardInfo(notes=[note])  # the base model: the Hub id the base was resolved from, if any
    out = model.save_pretrained(args.out, imported.modality, args.format, results=args.results, card=card)
    lora = ("no LoRA" if imported.lora is None else
            f"LoRA r={imported.lora.r} alpha={imported.lora.alpha:g} {'merged' if imported.lora_merged else 'kept'}")
    text = "text tower equals the base's" if imported.text_checked else "text tower not checked (base has no weights)"
    print(f"imported {epoch}{run_name}: {imported.modality} tower, {lora}, {text} -> {out} ({args.format})")
    return 0
