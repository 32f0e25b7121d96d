"""Dependencies point one way (docs/architecture.md): checked on the import statements of every module.

Every package and top-level module of ``languagebind`` must be declared in ``ALLOWED`` with the parts it may
import, so a new package has to take its place in the layering before its first test runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "languagebind"

LEAVES = {"errors", "utils", "constants", "registry"}
CORE = LEAVES | {"model", "processing"}
RUNTIME = CORE | {"precision", "hub", "pretrained"}
# part -> the languagebind parts it may import (its own modules always)
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "constants": set(),
    "registry": {"errors"},  # the modality registry; it loads languagebind.modalities by name on first use
    "modalities": LEAVES,  # the built-in modality specs: data, naming their hooks as "module:attribute" strings
    "utils": {"errors"},
    "model": LEAVES,
    "processing": LEAVES,
    "precision": LEAVES | {"model"},
    "hub": LEAVES | {"model", "processing"},
    "pretrained": RUNTIME - {"pretrained"},
    "official_import": RUNTIME - {"official_import"},
    "api": RUNTIME | {"official_import"},
    "data": LEAVES | {"processing"},
    "index": LEAVES | {"collection"},
    "collection": RUNTIME | {"api", "data"},
    "evaluation": RUNTIME | {"api", "data", "index"},
    "train": RUNTIME | {"data", "evaluation"},
    "vidal": LEAVES | {"processing", "data"},
    "serve": RUNTIME | {"api", "data", "index", "collection"},
    "demo": RUNTIME | {"api", "data", "index", "collection", "evaluation", "train"},
    "cli": RUNTIME | {"api", "data", "index", "collection", "evaluation", "train", "vidal", "serve", "demo"}
    | {"official_import"},
    "__init__": {"api", "errors", "registry"},
    "__main__": {"cli"},
}


def imported_languagebind_parts(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            raise AssertionError(f"{path}: relative import (use absolute languagebind.* imports)")
        for name in names:
            parts = name.split(".")
            if parts[0] == "languagebind" and len(parts) > 1:
                found.add(parts[1])
    return found


def parts() -> list[str]:
    found = []
    for child in sorted(PACKAGE.iterdir()):
        if child.is_dir() and (child / "__init__.py").is_file():
            found.append(child.name)
        elif child.suffix == ".py":
            found.append(child.stem)
    return found


def test_every_part_is_declared():
    undeclared = set(parts()) - set(ALLOWED)
    assert not undeclared, f"add {sorted(undeclared)} to ALLOWED (and docs/architecture.md)"


@pytest.mark.parametrize("part", parts())
def test_imports_point_one_way(part):
    root = PACKAGE / part
    files = sorted(root.rglob("*.py")) if root.is_dir() else [PACKAGE / f"{part}.py"]
    allowed = ALLOWED[part] | {part}
    bad = {f"{f.relative_to(PACKAGE)} imports languagebind.{imported}"
           for f in files for imported in imported_languagebind_parts(f) - allowed}
    assert not bad, sorted(bad)


def test_allowed_imports_have_no_cycles():
    seen: dict[str, int] = {}

    def visit(part: str, stack: tuple[str, ...]) -> None:
        assert part not in stack, f"cycle: {' -> '.join((*stack, part))}"
        if seen.get(part):
            return
        for dependency in ALLOWED.get(part, ()):
            visit(dependency, (*stack, part))
        seen[part] = 1

    for part in ALLOWED:
        visit(part, ())
