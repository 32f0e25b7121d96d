"""Prompt templates: shipped ones by name (``vidal/data/prompts/<name>.txt``) or any text file by path.

Templates are ``str.format`` strings over ``{title}``, ``{hashtags}``, ``{raw}``, ``{video_caption}`` and
``{keyframe_captions}``; a field a sample lacks becomes "unknown".
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from languagebind.errors import ConfigError
from languagebind.vidal.sample import Sample

SHIPPED = Path(__file__).with_name("data") / "prompts"


@lru_cache(maxsize=16)
def load_template(name_or_path: str) -> str:
    """The template text; a bare name (no ``/`` or ``.txt``) means a shipped template."""
    path = Path(name_or_path)
    if path.suffix != ".txt" and "/" not in name_or_path:
        path = SHIPPED / f"{name_or_path}.txt"
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as err:
        shipped = ", ".join(sorted(p.stem for p in SHIPPED.glob("*.txt")))
        raise ConfigError(f"prompt template {name_or_path!r}: cannot read {path} ({err.strerror}); "
                          f"shipped templates: {shipped}") from err


def render(template: str, sample: Sample) -> str:
    """``template`` filled in with the sample's cleaned text and captions so far."""
    text = sample.fields.get("text")
    values = {
        "title": text.title if text else sample.item.title,
        "hashtags": " ".join(f"#{t}" for t in text.hashtags) if text else " ".join(sample.item.hashtags),
        "raw": text.raw if text else sample.item.title,
        "video_caption": sample.fields.get("video_caption") or "",
        "keyframe_captions": "; ".join(dict.fromkeys(sample.fields.get("keyframe_captions") or [])),
    }
    return template.format_map({k: v or "unknown" for k, v in values.items()})
