"""`languagebind eval TASK` for the combined and emergent tasks (``nyu_d:rgb+depth``, ``llvip:rgb->thermal``, ...).

```
languagebind eval nyu_d:rgb+depth --data ~/data/nyu --checkpoint image=ckpts/Image --checkpoint depth=ckpts/Depth \\
    --out nyu_combined.json
```
"""

from __future__ import annotations

import argparse
import sys

from languagebind.errors import InputError


def evaluate_paired_and_write(args: argparse.Namespace) -> int:
    """Load the towers, run the task, write results.json and the Markdown table, print the table."""
    from languagebind.cli.combine import parse_weights
    from languagebind.cli.common import load_model
    from languagebind.evaluation.cache import default_cache_dir
    from languagebind.evaluation.paired import evaluate_paired, get_paired_task, markdown_paired
    from languagebind.utils.io import write_json_atomic, write_text_atomic

    task = get_paired_task(args.benchmark)
    if args.dual_softmax:
        raise InputError("--dual-softmax", f"applies to single-modality retrieval benchmarks, not {task.name}")
    weights = parse_weights(args.weights)
    model = load_model(args)
    needed = sorted(set(task.towers.values()) - set(model.modalities))
    if needed:
        roles = ", ".join(f"{role}: {tower}" for role, tower in task.towers.items())
        raise InputError("--checkpoint", f"{task.name} needs the {', '.join(needed)} tower(s) ({roles}); loaded: "
                                         f"{', '.join(model.modalities)}")
    cache_dir = None if args.no_cache else (args.cache_dir or default_cache_dir())
    result = evaluate_paired(task, args.data, model, limit=args.limit, allow_missing=args.allow_missing,
                             partial=args.partial, batch_size=args.batch_size, cache_dir=cache_dir, weights=weights,
                             progress=args.progress)
    payload = result.to_json()
    write_json_atomic(args.out, payload)
    table = markdown_paired(payload)
    write_text_atomic(args.markdown or args.out.with_suffix(".md"), table)
    for path, role, reason in result.missing:
        print(f"languagebind eval: left out an item ({role} file {path}: {reason})", file=sys.stderr)
    for path, role, reason in result.incomplete:
        print(f"languagebind eval: an item without its {role} ({path}: {reason})", file=sys.stderr)
    print(table, end="")
    counts = ", ".join(f"{n} {role}" for role, n in result.encoded["items"].items())
    print(f"wrote {args.out} ({counts} files and {result.encoded['texts']} texts encoded, the rest from the cache; "
          f"{result.seconds:.1f} s)", file=sys.stderr)
    return 0
