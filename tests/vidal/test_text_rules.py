"""The builder's filters on cleaned titles (the cleaning itself: tests/data/test_titles.py)."""

from __future__ import annotations

import pytest

from languagebind.vidal import text_rules

STOP = text_rules.load_stopwords()


@pytest.mark.parametrize(("title", "tags", "expected"), [
    ("one #dog", [], "title_too_short"),
    ("viral funny video #shorts", ["dog"], "title_too_short"),
    ("a dog on a boat #shorts", [], "no_hashtags"),
    ("#shorts", [], "no_title"),
    ("a dog on a boat", ["dog"], None),
])
def test_paper_rules(title: str, tags: list[str], expected: str | None) -> None:
    problem = text_rules.check(text_rules.clean(title, tags, STOP), min_title_words=2, require_hashtags=True)
    assert (problem[0] if problem else None) == expected


def test_title_words_count_inner_apostrophes_once() -> None:
    cleaned = text_rules.clean("Don't stop #dance", [], STOP)
    assert cleaned.title_words == 2
    assert text_rules.check(cleaned, min_title_words=3, require_hashtags=True) == (
        "title_too_short", "2 title word(s) after cleaning, need 3")
