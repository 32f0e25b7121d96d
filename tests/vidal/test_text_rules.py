from __future__ import annotations

from pathlib import Path

import pytest

from languagebind.errors import InputError
from languagebind.vidal import text_rules

STOP = text_rules.load_stopwords()


def test_stop_words_match_whole_words_only() -> None:
    cleaned = text_rules.clean("Strawberry shortcake videogame tutorial #cooking #viralvideo", [], STOP)
    assert cleaned.title == "Strawberry shortcake videogame tutorial"  # the official regex gives "strawberry cake game"
    assert cleaned.hashtags == ("cooking",)


def test_inline_and_sidecar_hashtags_are_merged_cleaned_and_unique() -> None:
    cleaned = text_rules.clean("Cat jumps | #Shorts #cats 😂 funny", ["cats", "#Cute_Cats", "fyp"], STOP)
    assert cleaned.title == "Cat jumps"
    assert cleaned.hashtags == ("cats", "cutecats")
    assert cleaned.raw == "Cat jumps #cats #cutecats"


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


def test_the_shipped_list_holds_the_paper_words() -> None:
    assert {"youtube", "fyp", "shorts", "viral", "subscribe", "asmr"} <= STOP
    assert "shortcake" not in STOP


def test_custom_stop_word_file_and_extras(tmp_path: Path) -> None:
    words = tmp_path / "stop.txt"
    words.write_text("# comment\nboat\n")
    stop = text_rules.load_stopwords(str(words), ("#Dog",))
    assert stop == {"boat", "dog"}
    assert text_rules.clean("A dog on a boat", ["dog", "sea"], stop).raw == "A on a #sea"
    with pytest.raises(InputError, match="stop-word list"):
        text_rules.load_stopwords(str(tmp_path / "missing.txt"))
