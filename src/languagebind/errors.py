"""Errors raised for bad user input and bad checkpoints; each names what was wrong and why."""

from __future__ import annotations

from pathlib import Path


class LanguageBindError(Exception):
    """Base class of every error this package raises on purpose."""


class InputError(LanguageBindError, ValueError):
    """An input item (file, text, tensor) that cannot be used.

    Attributes:
        item: the offending input (a path, a string, or a short description of it).
        reason: why it was rejected, in plain words.
    """

    def __init__(self, item: object, reason: str) -> None:
        self.item = item
        self.reason = reason
        super().__init__(f"{_describe(item)}: {reason}")


class CheckpointError(LanguageBindError):
    """A checkpoint directory or file that cannot be loaded or saved."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"checkpoint {self.path}: {reason}")


class ConfigError(LanguageBindError, ValueError):
    """A configuration value or key that is unknown or inconsistent."""


def _describe(item: object) -> str:
    if isinstance(item, (str, Path)):
        text = str(item)
        return repr(text if len(text) <= 200 else text[:197] + "...")
    return f"<{type(item).__name__}>"
