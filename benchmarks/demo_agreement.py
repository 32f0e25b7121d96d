"""Agreement of the fast precisions with fp32 on the demo's trained towers (run `make demo` first).

    python benchmarks/demo_agreement.py [--demo runs/demo] [--out benchmarks/results/demo_agreement.json]

For every tower of the demo run and each of bf16 and int8: the mean cosine between its embeddings of the held-out
test items and the fp32 ones, the same for the zero-shot label texts (the language tower: bf16 where the CPU has
it natively, also under int8), and the share of test items whose zero-shot decision (top-1 label) is unchanged.
Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from languagebind.api import LanguageBind
from languagebind.data.synthetic.captions import zero_shot_labels
from languagebind.data.synthetic.vocab import CATEGORIES
from languagebind.demo.data import read_split, split_tensors
from languagebind.precision import hardware_summary, tune_cpu_allocator
from languagebind.utils.io import write_json_atomic

MODALITIES = ("video", "audio", "depth", "thermal", "image")
REPO = Path(__file__).resolve().parents[1]


def embed_all(demo: Path, precision: str) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """``{modality: (test item embeddings, zero-shot label embeddings)}`` in ``precision``."""
    towers = {m: demo / "towers" / m for m in MODALITIES if (demo / "towers" / m / "config.json").is_file()}
    model = LanguageBind.from_pretrained(towers, precision=precision, device="cpu")
    test = read_split(demo / "data" / "test" / "manifest.jsonl", "test")
    labels = [c.name for c in CATEGORIES if any(meta["category"] == c.name for meta in test.metas)]
    out = {}
    for m in towers:
        pixels = split_tensors(test, m, model.processor_config(m), demo / "cache").float()
        out[m] = (model.encode(m, pixels, batch_size=256), model.encode("text", zero_shot_labels(m, labels)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path, default=REPO / "runs" / "demo")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "demo_agreement.json")
    args = parser.parse_args()
    tune_cpu_allocator()  # as the languagebind CLI does (LANGUAGEBIND_MALLOC_TUNING=0 turns it off)
    reference = embed_all(args.demo, "fp32")
    results: dict[str, Any] = {"machine": hardware_summary(), "demo": str(args.demo), "modes": {}}
    print(f"{'mode':>5} {'tower':>8} {'cos items':>10} {'cos labels':>11} {'decisions kept':>15}")
    for mode in ("bf16", "int8"):
        for m, (items, labels) in embed_all(args.demo, mode).items():
            ref_items, ref_labels = reference[m]
            kept = ((items @ labels.T).argmax(1) == (ref_items @ ref_labels.T).argmax(1)).float().mean()
            row = {"cosine": float((items * ref_items).sum(-1).mean()),
                   "label_cosine": float((labels * ref_labels).sum(-1).mean()),
                   "decisions_unchanged": float(kept), "n": len(items)}
            results["modes"].setdefault(mode, {})[m] = row
            print(f"{mode:>5} {m:>8} {row['cosine']:10.5f} {row['label_cosine']:11.5f} "
                  f"{row['decisions_unchanged']:15.4f}")
    write_json_atomic(args.out, results, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
