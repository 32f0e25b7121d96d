"""Prompt templates and class-name lists, read from the data files shipped in ``evaluation/data``.

* ``templates/photo.txt``: the 80 OpenAI ImageNet templates (``{}`` = class name).
* ``templates/{depth,video,thermal,sound80}.txt``: the same 80 with "photo" replaced by "depth photo",
  "video", "thermal infrared photo", "sound" (the official code's variants).
* ``templates/sound.txt``: ``a sound of {}.``, the one template the official audio classifier uses.
* ``paper_results*.json``: the paper's numbers (``{"rows": [...]}``) printed beside ours.
* ``classnames/<name>.tsv``: ``key<TAB>class name`` per line in class-index order, where ``key`` is how
  the public release names the class (folder, csv label, WordNet id); ``#`` lines are comments.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from languagebind.errors import InputError

DATA_PACKAGE = "languagebind.evaluation.data"


def _read(kind: str, name: str) -> list[str]:
    resource = resources.files(DATA_PACKAGE).joinpath(kind, name)
    if not resource.is_file():
        raise InputError(f"{kind}/{name}", "no such prompt data file in the package")
    text = resource.read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


@cache
def templates(name: str) -> tuple[str, ...]:
    """The template set ``name`` (file ``templates/<name>.txt``); each template has one ``{}``."""
    lines = tuple(_read("templates", f"{name}.txt"))
    bad = [t for t in lines if t.count("{}") != 1]
    if bad:
        raise InputError(f"templates/{name}.txt", f"every template needs exactly one '{{}}': {bad[0]!r}")
    return lines


@cache
def class_table(name: str) -> tuple[tuple[str, str], ...]:
    """``(key, class name)`` pairs of ``classnames/<name>.tsv`` in class-index order."""
    rows = []
    for line in _read("classnames", f"{name}.tsv"):
        key, sep, label = line.partition("\t")
        if not sep or not key or not label:
            raise InputError(f"classnames/{name}.tsv", f"expected 'key<TAB>name', got {line!r}")
        rows.append((key, label))
    return tuple(rows)


def classnames(name: str) -> list[str]:
    """Class names of ``classnames/<name>.tsv`` in class-index order."""
    return [label for _, label in class_table(name)]


def prompts_for(classes: list[str], template_set: tuple[str, ...]) -> list[str]:
    """Every template filled with every class, class-major: ``[c0 t0, c0 t1, ..., c1 t0, ...]``."""
    return [template.format(name) for name in classes for template in template_set]


@cache
def paper_rows(name: str) -> tuple[dict, ...]:
    """The ``rows`` of the paper-numbers file ``name`` shipped beside the prompts (e.g. ``paper_results.json``)."""
    text = resources.files(DATA_PACKAGE).joinpath(name).read_text(encoding="utf-8")
    return tuple(json.loads(text)["rows"])
