"""`languagebind eval`: zero-shot evaluation on a benchmark in its public layout.

```
languagebind eval msrvtt --data ~/data/msrvtt --checkpoint video=ckpts/LanguageBind_Video_FT --out msrvtt.json
languagebind eval folder --modality vibration --data ~/data/bearings --checkpoint vibration=run/export --out r.json
languagebind eval --list
```

``folder`` is the generic benchmark: ``--data`` holds one folder per class (optionally under ``val/`` or
``test/``), the class names are the folder names, the prompts the modality's own templates.

Writes results.json (``{"benchmark", "n", "metrics", ...}``) and a Markdown table with the paper's numbers
beside ours (same name, ``.md``), and prints the table. Embeddings are cached on disk, so a re-run encodes
nothing. See docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from languagebind.errors import InputError

if TYPE_CHECKING:
    from languagebind.evaluation.benchmarks import Benchmark


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("benchmark", nargs="?",
                        help="benchmark name, or a combined/emergent task such as nyu_d:rgb+depth (see --list)")
    parser.add_argument("--list", action="store_true", help="print the benchmark names, one per line, and exit")
    parser.add_argument("--data", type=Path, help="the benchmark's directory, in its public layout")
    parser.add_argument("--modality", help="the modality of the 'folder' benchmark (one folder per class)")
    parser.add_argument("--checkpoint", action="append", metavar="[MODALITY=]DIR_OR_HUB_ID",
                        help="checkpoint directory (official or ours) or Hub id of the benchmark's modality")
    parser.add_argument("--out", type=Path, help="results.json to write (the Markdown table goes beside it, .md)")
    parser.add_argument("--markdown", type=Path, help="where to write the Markdown table (default: --out with .md)")
    parser.add_argument("--limit", type=int, help="evaluate N items spread evenly over the benchmark (quick look)")
    parser.add_argument("--allow-missing", action="store_true",
                        help="leave missing/unreadable files out (listed in results.json) instead of stopping")
    parser.add_argument("--batch-size", type=int, default=32, help="items per forward pass (default 32)")
    parser.add_argument("--cache-dir", type=Path,
                        help="embedding cache (default $LANGUAGEBIND_CACHE/embeddings or ~/.cache/languagebind/"
                             "embeddings)")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the embedding cache")
    parser.add_argument("--dual-softmax", action="store_true",
                        help="also report dual-softmax re-ranked retrieval metrics (separately)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    parser.add_argument("--precision", default="fp32", help="fp32 (default, official numerics), bf16, ...")
    parser.add_argument("--weights", metavar="ROLE=W,...",
                        help="combined tasks: weight of each role in the combined query (default 1 each)")
    parser.add_argument("--partial", action="store_true",
                        help="combined tasks: keep items lacking a modality (a video without sound), combined from "
                             "the modalities they have")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bars (default: when stderr is a terminal)")


def run(args: argparse.Namespace) -> int:
    from languagebind.evaluation.benchmarks import BENCHMARKS, FOLDER, get_benchmark
    from languagebind.evaluation.paired import PAIRED_TASKS, is_paired_task

    if args.list:
        print("\n".join([*BENCHMARKS, FOLDER, *PAIRED_TASKS]))
        return 0
    for option, value in (("BENCHMARK", args.benchmark), ("--data", args.data), ("--checkpoint", args.checkpoint),
                          ("--out", args.out)):
        if not value:
            raise InputError(option, "required (or use --list)")
    if args.batch_size < 1:
        raise InputError("--batch-size", "must be at least 1")
    if is_paired_task(args.benchmark):
        from languagebind.cli.eval_paired import evaluate_paired_and_write

        return evaluate_paired_and_write(args)
    for option, value in (("--weights", args.weights), ("--partial", args.partial)):
        if value:
            raise InputError(option, "applies to combined tasks (nyu_d:rgb+depth, ...)")
    benchmark = get_benchmark(args.benchmark, args.modality)
    return evaluate_and_write(args, benchmark)


def evaluate_and_write(args: argparse.Namespace, benchmark: Benchmark) -> int:
    """Load the model, run the benchmark, write results.json and the Markdown table."""
    from languagebind.cli.common import load_model
    from languagebind.evaluation.cache import default_cache_dir
    from languagebind.evaluation.runner import evaluate
    from languagebind.evaluation.tables import markdown_table
    from languagebind.utils.io import write_json_atomic, write_text_atomic

    model = load_model(args)
    if benchmark.modality not in model.modalities:
        raise InputError("--checkpoint", f"{benchmark.name} needs a {benchmark.modality} tower; loaded: "
                                         f"{', '.join(model.modalities)}")
    cache_dir = None if args.no_cache else (args.cache_dir or default_cache_dir())
    result = evaluate(benchmark, args.data, model, limit=args.limit, allow_missing=args.allow_missing,
                      batch_size=args.batch_size, cache_dir=cache_dir, dual_softmax=args.dual_softmax,
                      progress=args.progress)
    payload = result.to_json()
    write_json_atomic(args.out, payload)
    table = markdown_table(payload)
    write_text_atomic(args.markdown or args.out.with_suffix(".md"), table)
    for path, reason in result.missing:
        print(f"languagebind eval: left out {path}: {reason}", file=sys.stderr)
    if result.missing:
        print(f"languagebind eval: metrics computed on {result.n} of {result.n + len(result.missing)} items "
              f"({len(result.missing)} missing or unreadable)", file=sys.stderr)
    print(table, end="")
    print(f"wrote {args.out} ({result.encoded['items']} items and {result.encoded['texts']} texts encoded, the rest "
          f"from the cache; {result.seconds:.1f} s)", file=sys.stderr)
    return 0
