"""Title and hashtag rules of the paper (Sec. 4.1): clean on word boundaries, >= 2 title words, has hashtags.

The official loader's ``clean_youtube`` removes its stop words as *substrings* ("shortcake" -> "cake",
"videogame" -> "game"); here a stop word only matches a whole word or a whole hashtag.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from languagebind.errors import InputError

BUILTIN_STOPWORDS = Path(__file__).with_name("data") / "stopwords.txt"
_HASHTAG = re.compile(r"#([^\W_][\w]*)")
# Keep letters, digits, whitespace and plain punctuation; drop emoji, symbols and markup.
_DROP = re.compile(r"[^\w\s.,;:?!'\"&()/-]|_")
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_EDGE_PUNCT = " \t|-/,;:"


@dataclass(frozen=True)
class CleanText:
    """A cleaned title and its hashtags; ``raw`` is the ``"title #tag1 #tag2"`` text written to the shards."""

    title: str
    hashtags: tuple[str, ...]

    @property
    def raw(self) -> str:
        return " ".join([self.title, *(f"#{tag}" for tag in self.hashtags)]).strip()

    @property
    def title_words(self) -> int:
        return len(_WORD.findall(self.title))


@lru_cache(maxsize=8)
def load_stopwords(path: str | None = None, extra: tuple[str, ...] = ()) -> frozenset[str]:
    """Lower-case stop words from ``path`` (default: the shipped list) plus ``extra``; ``#`` starts a comment."""
    source = Path(path) if path else BUILTIN_STOPWORDS
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise InputError(source, f"cannot read the stop-word list ({err.strerror})") from err
    words = {line.split("#", 1)[0].strip().lower() for line in lines}
    return frozenset(w for w in words | {e.strip().lower().lstrip("#") for e in extra} if w)


def clean(title: str, hashtags: Iterable[str], stopwords: frozenset[str]) -> CleanText:
    """Split inline ``#tags`` out of ``title``, drop stop words (whole words) and symbols; keep tag order, unique."""
    inline = _HASHTAG.findall(title)
    title = _HASHTAG.sub(" ", title).replace("#", " ")
    tags: list[str] = []
    for tag in [*inline, *hashtags]:
        tag = re.sub(r"[\W_]+", "", str(tag)).lower()
        if tag and tag not in stopwords and tag not in tags:
            tags.append(tag)
    return CleanText(title=_clean_title(title, stopwords), hashtags=tuple(tags))


def _clean_title(title: str, stopwords: frozenset[str]) -> str:
    text = _DROP.sub(" ", title)
    if stopwords:
        text = _stopword_pattern(stopwords).sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    # Separators and punctuation left dangling by removed words: "Cat | #shorts" -> "Cat".
    text = re.sub(r"\s+([,.;:?!])", r"\1", text)
    text = re.sub(r"([,;:|/-])(?:\s*[,;:|/-])+", r"\1", text)
    return text.strip(_EDGE_PUNCT)


@lru_cache(maxsize=8)
def _stopword_pattern(stopwords: frozenset[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(w) for w in sorted(stopwords, key=len, reverse=True))
    return re.compile(rf"(?<![\w'])(?:{alternatives})(?![\w'])", re.IGNORECASE)


def check(text: CleanText, min_title_words: int, require_hashtags: bool) -> tuple[str, str] | None:
    """``(reason, detail)`` when the paper's rules reject ``text``, else None."""
    if not text.title and not text.hashtags:
        return "no_title", "no title and no hashtags after cleaning"
    if text.title_words < min_title_words:
        return "title_too_short", f"{text.title_words} title word(s) after cleaning, need {min_title_words}"
    if require_hashtags and not text.hashtags:
        return "no_hashtags", "no hashtags left after removing stop words"
    return None
