"""The builder's use of the one title cleaner (`languagebind.data.titles`) and the paper's filters (Sec. 4.1).

The builder cleans a YouTube title and its listed tags with every group of the shipped stop-word list (the
official loader's words and the paper's), keeps the title's case and writes one ``#word`` per hashtag, so the
``raw`` it writes is what the trainer's cleaning of it keeps. Then it drops titles of fewer than 2 words and
clips with no hashtag left.
"""

from __future__ import annotations

from collections.abc import Iterable

from languagebind.data import titles
from languagebind.data.titles import Title


def load_stopwords(path: str | None = None, extra: tuple[str, ...] = ()) -> frozenset[str]:
    """Every stop word of ``path`` (default: the shipped list, all groups) plus ``extra`` (``#`` stripped)."""
    extras = {e.strip().lower().lstrip("#") for e in extra} - {""}
    return titles.stop_words(path) | extras


def clean(title: str, hashtags: Iterable[str], stopwords: frozenset[str]) -> Title:
    """A video's title (inline ``#tags`` anywhere) and listed tags -> the cleaned title and hashtags to write."""
    return titles.clean(title, stopwords, hashtags=hashtags, layout="youtube", keep_case=True)


def check(text: Title, min_title_words: int, require_hashtags: bool) -> tuple[str, str] | None:
    """``(reason, detail)`` when the paper's rules reject ``text``, else None."""
    if not text.title and not text.hashtags:
        return "no_title", "no title and no hashtags after cleaning"
    if text.title_words < min_title_words:
        return "title_too_short", f"{text.title_words} title word(s) after cleaning, need {min_title_words}"
    if require_hashtags and not text.hashtags:
        return "no_hashtags", "no hashtags left after removing stop words"
    return None
