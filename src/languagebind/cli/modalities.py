"""`languagebind modalities`: the registered modalities (built-in and plug-ins) and what each is made of.

```
languagebind modalities            # name, file kinds, token geometry, source
languagebind modalities --json     # every field of each spec, one JSON object per line
```
"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object per modality with its spec's fields")


def run(args: argparse.Namespace) -> int:
    from languagebind.registry import modalities, plugin_errors

    specs = modalities()
    if args.json:
        for spec in specs:
            print(json.dumps(describe(spec)))
    else:
        rows = [("name", "file kinds", "tokens", "source")]
        rows += [(s.name, " ".join(s.extensions), s.token_geometry, s.source) for s in specs]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for row in rows:
            print("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)) + "  " + row[3])
    for entry, reason in plugin_errors().items():
        print(f"languagebind modalities: plug-in {entry} failed to load: {reason}", file=sys.stderr)
    return 0


def describe(spec: object) -> dict[str, object]:
    """A spec as JSON-friendly data (hooks as their ``module:attribute`` names)."""
    from dataclasses import fields

    out: dict[str, object] = {}
    for f in fields(spec):  # type: ignore[arg-type]
        value = getattr(spec, f.name)
        if callable(value):
            value = f"{getattr(value, '__module__', '?')}:{getattr(value, '__qualname__', repr(value))}"
        elif not isinstance(value, (str, int, float, bool, type(None), tuple, list)):
            value = {k: list(v) if isinstance(v, tuple) else v for k, v in dict(value).items()}
        out[f.name] = value
    return out
