"""Dependencies point one way (docs/architecture.md): checked on the import statements of every module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "languagebind"

# layer -> packages it must never import
FORBIDDEN = {
    "model": {"processing", "data", "train", "evaluation", "build", "serve", "cli", "demo", "api", "loading"},
    "processing": {"model", "data", "train", "evaluation", "build", "serve", "cli", "demo", "api", "loading"},
    "utils": {"model", "processing", "data", "train", "evaluation", "build", "serve", "cli", "demo", "api", "loading"},
    "data": {"train", "evaluation", "build", "serve", "cli", "demo"},
    "evaluation": {"train", "build", "cli", "demo"},
    "train": {"evaluation", "build", "cli", "demo", "serve"},
    "build": {"train", "evaluation", "cli", "demo"},
    "serve": {"train", "cli", "demo"},
}


def imported_languagebind_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "languagebind" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_point_one_way(layer):
    root = PACKAGE / layer
    if not root.exists():
        pytest.skip(f"no {layer} package")
    files = [root] if root.is_file() else sorted(root.rglob("*.py"))
    bad = {f"{f.relative_to(PACKAGE)} imports languagebind.{pkg}"
           for f in files for pkg in imported_languagebind_packages(f) & FORBIDDEN[layer]}
    assert not bad, sorted(bad)
