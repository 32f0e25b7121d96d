"""The one title cleaner: the trainer's reading of ``raw`` (official layout) and the builder's (YouTube titles)."""

from __future__ import annotations

from pathlib import Path

import pytest

from languagebind.data import titles
from languagebind.data.titles import Title, clean, clean_title
from languagebind.errors import ConfigError, InputError
from languagebind.vidal import text_rules

BUILDER = text_rules.load_stopwords()


def build(title: str, tags: list[str] | tuple[str, ...] = (), stop: frozenset[str] = BUILDER) -> Title:
    """What the VIDAL builder writes for a video's title and listed tags."""
    return clean(title, stop, hashtags=tags, layout="youtube", keep_case=True)


# -- the trainer: official layout, the official loader's words ------------------------------------------
@pytest.mark.parametrize(("raw", "cleaned"), [
    ("WHY SCUBA DIVERS ROLL BACKWARDS OFF BOAT #shorts", "why scuba divers roll backwards off boat"),
    # the official substring regex turned this into "strawberry cake game tutorial, cooking"
    ("Strawberry shortcake videogame tutorial #cooking #viralvideo",
     "strawberry shortcake videogame tutorial, cooking"),
    ("Funny video of my cat &amp; dog!! #cute cat #viral #tiktok", "funny of my cat dog!!, cute cat"),
    ("#shorts #youtube", ""),
    ("#tutorial only tags", "tutorial only tags"),
    ("Gâteau au chocolat 🍫 #recette_facile", "gâteau au chocolat, recette facile"),
])
def test_clean_title(raw: str, cleaned: str) -> None:
    assert clean_title(raw) == cleaned


def test_custom_stop_words() -> None:
    assert clean_title("Cat video #cat", frozenset({"cat"})) == "video"


# -- the builder: inline #word tags, listed tags, case kept, both groups of stop words -------------------
def test_stop_words_match_whole_words_only() -> None:
    cleaned = build("Strawberry shortcake videogame tutorial #cooking #viralvideo")
    assert cleaned.title == "Strawberry shortcake videogame tutorial"  # the official regex gives "strawberry cake game"
    assert cleaned.hashtags == ("cooking",)


def test_inline_and_sidecar_hashtags_are_merged_cleaned_and_unique() -> None:
    cleaned = build("Cat jumps | #Shorts #cats 😂 funny", ["cats", "#Cute_Cats", "fyp"])
    assert cleaned.title == "Cat jumps"
    assert cleaned.hashtags == ("cats", "cutecats")
    assert cleaned.raw == "Cat jumps #cats #cutecats"
    assert text_rules.clean("Cat jumps | #Shorts #cats 😂 funny", ["cats", "#Cute_Cats", "fyp"], BUILDER) == cleaned


def test_the_shipped_list_holds_the_paper_words() -> None:
    assert {"youtube", "fyp", "shorts", "viral", "subscribe", "asmr"} <= BUILDER
    assert "shortcake" not in BUILDER


def test_custom_stop_word_file_and_extras(tmp_path: Path) -> None:
    words = tmp_path / "stop.txt"
    words.write_text("# comment\nboat\n")
    stop = text_rules.load_stopwords(str(words), ("#Dog",))
    assert stop == {"boat", "dog"}
    assert build("A dog on a boat", ["dog", "sea"], stop).raw == "A on a #sea"
    with pytest.raises(InputError, match="stop-word list"):
        text_rules.load_stopwords(str(tmp_path / "missing.txt"))


# -- one list, one rule set: where the two cleaners used to disagree -------------------------------------
def test_one_stop_word_file_in_two_groups() -> None:
    loader = titles.loader_stop_words()
    # the trainer removes the official loader's words only, so VIDAL-mini's "#fyp" noise tag stays in its text
    assert {"video", "shorts", "youtube", "viral", "tiktok", "ytviralshorts"} <= loader
    assert not loader & {"fyp", "funny", "love", "fashion", "subscribe", "asmr", "bts", "bmw", "nfl"}
    assert clean_title("Two red stars #star #fyp") == "two red stars, star fyp"
    # the builder removes both groups
    assert BUILDER == titles.stop_words() == loader | titles.stop_words(groups=(titles.PAPER_WORDS,))
    with pytest.raises(ConfigError, match="stop-word groups"):
        titles.stop_words(groups=("table10",))


def test_grouped_custom_file(tmp_path: Path) -> None:
    words = tmp_path / "stop.txt"
    words.write_text("always\n[a]\nalpha  # inline comment\n[b]\nBeta\n")
    assert titles.stop_words(str(words)) == {"always", "alpha", "beta"}
    assert titles.stop_words(str(words), ("b",)) == {"always", "beta"}


@pytest.mark.parametrize(("raw", "trainer", "builder"), [
    # HTML entities are decoded by both (the builder used to write "&amp;")
    ("Cat &amp; dog #pets", "cat dog, pets", "Cat dog #pets"),
    # one character set, the official loader's: the builder used to keep & ( ) / - and drop |
    ("Mac & cheese (easy) - step/by/step #food", "mac cheese easy step by step, food",
     "Mac cheese easy step by step #food"),
    ("Cat | dog | #cute", "cat | dog, cute", "Cat | dog #cute"),
    # separators left by a removed word collapse (the trainer used to give "cat | | dog")
    ("Cat | shorts | dog #cute", "cat | dog, cute", "Cat | dog #cute"),
    ("A, , b: ; c #x", "a, b: c, x", "A, b: c #x"),
    # "_" is a space before stop words are looked for (the trainer used to keep "my_cat" and "viral video")
    ("my_cat shorts_video #viral_video #you_tube", "my cat, you tube", "my cat"),
    # a word with an inner apostrophe is one word: "youtube's" is no stop word (the trainer used to give "'s")
    ("youtube's best moments #fun", "youtube's best moments, fun", "youtube's best moments #fun"),
])
def test_merged_rules(raw: str, trainer: str, builder: str) -> None:
    assert clean_title(raw) == trainer
    assert build(raw).raw == builder


def test_what_the_builder_writes_the_trainer_keeps() -> None:
    for raw, tags in [("Cat jumps | #Shorts #cats 😂 funny", ["Cute_Cats"]), ("Mac & cheese (easy) #food", []),
                      ("WHY SCUBA DIVERS ROLL #shorts", ["Scuba Diving"]), ("Gâteau 🍫 #recette_facile", [])]:
        written = build(raw, tags)
        assert clean_title(written.raw) == clean_title(written.text) == written.text.lower()


def test_hashtag_layouts() -> None:
    # official: everything after the first "#" is hashtags, one per "#"
    assert clean("Dog #shorts surfing a wave #dog").text == "dog, surfing a wave dog"
    # youtube: a hashtag is one "#word" anywhere; one word each, listed once; a stop word as a whole is dropped
    assert build("Dog #shorts surfing a wave #dog", ["dog", "you tube", "Scuba Diving"]) == Title(
        "Dog surfing a wave", ("dog", "scubadiving"))
    with pytest.raises(ConfigError, match="layout"):
        clean("x", layout="tiktok")
