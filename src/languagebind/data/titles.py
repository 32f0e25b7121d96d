"""Video titles and hashtags: one cleaning rule set and one stop-word list, for the trainer and the VIDAL builder.

The trainer reads a clip's ``raw`` text in the official layout, ``"Title words #tag1 #tag2"``, and trains on
``"title words, tag1 tag2"`` (``clean_title``, the official loader's ``clean_youtube`` + ``', '`` join). The
builder reads a YouTube title, whose ``#word`` tags can stand anywhere, plus its listed tags, and writes the
cleaned ``"Title words #tag1 #tag2"`` that the trainer reads later (``clean(..., layout="youtube")``). Both apply
the same rules to the words:

* HTML entities are decoded (``&amp;`` -> ``&``);
* letters and digits of any script are kept, with ``. , ; : ? ! ' " |`` in titles (the official loader's
  punctuation; it kept ASCII only); every other character, ``_`` included, becomes a space;
* stop words are removed case-insensitively as whole words (a word: letters and digits joined by inner
  apostrophes, so ``youtube's`` is no stop word); the official loader removed them as substrings
  (``"shortcake"`` -> ``"cake"``);
* separators left dangling by removed words are dropped (``"cat | | dog"`` -> ``"cat | dog"``).

Stop words come from ``stopwords.txt`` beside this module, in groups: ``[loader]``, the official loader's words,
which the trainer removes from every title, and ``[paper]``, the further words the paper's Sec. 4.1 / Table 10
removes when building the data set, which the builder removes as well before writing ``raw``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from languagebind.errors import ConfigError, InputError

LOADER_WORDS = "loader"  # the official loader's clean_youtube() words: removed by the trainer and the builder
PAPER_WORDS = "paper"  # the paper's further stop words: removed by the builder (before writing raw)
LAYOUTS = ("official", "youtube")

_TITLE_DROP = re.compile(r"[^\w\s.,;:?!'\"|]|_")
_TAG_DROP = re.compile(r"[^\w\s]|_")
_INLINE_TAG = re.compile(r"#([^\W_]\w*)")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_GROUP = re.compile(r"\[(\w+)\]")


@dataclass(frozen=True)
class Title:
    """A cleaned title and its cleaned hashtags (either may be empty)."""

    title: str
    hashtags: tuple[str, ...]

    @property
    def raw(self) -> str:
        """``"title #tag1 #tag2"``: what the builder writes as the clip's ``raw`` text."""
        return " ".join([self.title, *(f"#{tag}" for tag in self.hashtags)]).strip()

    @property
    def text(self) -> str:
        """``"title, tag1 tag2"``: what the trainer trains on (``""`` when nothing is left)."""
        tail = " ".join(self.hashtags)
        if self.title and tail:
            return f"{self.title}, {tail}"
        return self.title or tail

    @property
    def title_words(self) -> int:
        return len(_WORD.findall(self.title))


# -- stop words ------------------------------------------------------------------------------------------
@lru_cache(maxsize=8)
def stop_words(path: str | None = None, groups: tuple[str, ...] | None = None) -> frozenset[str]:
    """Lower-case stop words of ``path`` (default: the shipped ``stopwords.txt``), of ``groups`` (default: all).

    One word a line, ``#`` starts a comment, ``[name]`` starts group ``name``; words before the first group
    header are always included (so a plain word list needs no header).
    """
    if path is None:
        text = resources.files("languagebind.data").joinpath("stopwords.txt").read_text(encoding="utf-8")
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as err:
            raise InputError(path, f"cannot read the stop-word list ({err.strerror})") from err
    found: dict[str, set[str]] = {"": set()}
    group = ""
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        header = _GROUP.fullmatch(line)
        if header:
            group = header.group(1)
            found.setdefault(group, set())
        elif line:
            found[group].add(line.lower())
    if groups is None:
        return frozenset().union(*found.values())
    unknown = set(groups) - set(found)
    if unknown:
        raise ConfigError(f"unknown stop-word groups {sorted(unknown)} in {path or 'the shipped list'}; "
                          f"known: {sorted(set(found) - {''})}")
    return frozenset().union(found[""], *(found[g] for g in groups))


def loader_stop_words() -> frozenset[str]:
    """The words the trainer removes: the shipped list's ``[loader]`` group (the official loader's)."""
    return stop_words(groups=(LOADER_WORDS,))


@lru_cache(maxsize=8)
def _stop_pattern(words: frozenset[str]) -> re.Pattern[str]:
    if not words:
        return re.compile(r"(?!)")
    alternatives = "|".join(map(re.escape, sorted(words, key=len, reverse=True)))
    return re.compile(rf"(?<!\w)(?<!\w['’])(?:{alternatives})(?!\w)(?!['’]\w)", re.IGNORECASE)


# -- cleaning --------------------------------------------------------------------------------------------
def clean(text: str, stop_words: frozenset[str] | None = None, *, hashtags: Iterable[str] = (),
          layout: str = "official", keep_case: bool = False) -> Title:
    """Split ``text`` into a title and hashtags and clean both by the rules of the module docstring.

    Args:
        text: a title with hashtags.
        stop_words: words to remove (default: ``loader_stop_words()``, the trainer's).
        hashtags: further hashtags (e.g. the tags listed beside a video), after those found in ``text``.
        layout: ``"official"`` (the trainer reading ``raw``): everything after the first ``#`` is hashtags, one
            per ``#``, each may hold several words (``"#cute cat"`` -> ``"cute cat"``). ``"youtube"`` (the builder
            reading a video's title): a hashtag is one ``#word`` anywhere in the title; each hashtag is written
            as one lower-case word (``Cute_Cats`` -> ``cutecats``), listed once, and dropped when that word is a
            stop word.
        keep_case: keep the title's letter case (the builder's ``raw``); else everything is lower case.
    """
    if layout not in LAYOUTS:
        raise ConfigError(f"title layout must be one of {LAYOUTS}, got {layout!r}")
    words = loader_stop_words() if stop_words is None else stop_words
    text = html.unescape(text)
    if not keep_case:
        text = text.lower()
    if layout == "official":
        title, *tags = text.split("#")
    else:
        tags = _INLINE_TAG.findall(text)
        title = _INLINE_TAG.sub(" ", text).replace("#", " ")
    kept: list[str] = []
    for tag in [*tags, *(html.unescape(str(t)) for t in hashtags)]:
        tag = _clean_words(_TAG_DROP.sub(" ", tag), words)
        if not keep_case:
            tag = tag.lower()
        if layout == "youtube":
            tag = tag.replace(" ", "").lower()
            if tag in words or tag in kept:
                continue
        if tag:
            kept.append(tag)
    return Title(_clean_words(_TITLE_DROP.sub(" ", title), words), tuple(kept))


def clean_title(raw: str, stop_words: frozenset[str] | None = None) -> str:
    """``"Title words #tag1 #tag2"`` -> ``"title words, tag1 tag2"`` (the trainer's text of a ``raw`` view).

    Stop words default to the official loader's; ``""`` when nothing is left (officially ``"title, "``).
    """
    return clean(raw, stop_words).text


def _clean_words(text: str, stop_words: frozenset[str]) -> str:
    text = _stop_pattern(stop_words).sub(" ", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([.,;:?!])", r"\1", text)
    text = re.sub(r"([,;:|])(?:\s*[,;:|])+", r"\1", text)  # "cat | | dog" -> "cat | dog"
    return text.strip(" ,;:|")
