"""Checks shared by every decoder: is the item a readable, non-empty file; what kind of file does it look like."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from languagebind.errors import InputError
from languagebind.registry import with_extension

TRUNCATION_TOLERANCE_SECONDS = 0.25


def existing_file(item: str | Path) -> Path:
    """The item as a path to a non-empty regular file, else ``InputError`` saying what is wrong."""
    path = Path(item)
    if not path.exists():
        raise InputError(item, "file not found")
    if path.is_dir():
        raise InputError(item, "is a directory, not a file")
    try:
        size = path.stat().st_size
    except OSError as err:
        raise InputError(item, f"cannot read: {err.strerror or err}") from err
    if size == 0:
        raise InputError(item, "empty file (0 bytes)")
    return path


def kind_hint(path: Path) -> str:
    """`` (looks like a video file)``-style hint from the suffix, to explain a decode failure; empty if unknown."""
    suffix = path.suffix.lower()
    kinds = with_extension(suffix) if suffix else ()
    return f" (the name says {' or '.join(kinds)}: {suffix})" if kinds else ""


def check_complete(item: object, decoded_seconds: float, declared_seconds: float | None) -> None:
    """``InputError`` when a stream ends well before the duration its header declares (a cut-off file)."""
    if declared_seconds is None or declared_seconds <= 0:
        return
    if declared_seconds - decoded_seconds > max(TRUNCATION_TOLERANCE_SECONDS, 0.02 * declared_seconds):
        raise InputError(item, f"truncated: the header declares {declared_seconds:.2f} s but the data ends at "
                               f"{decoded_seconds:.2f} s")


@contextlib.contextmanager
def decode_errors(item: object, what: str) -> Iterator[None]:
    """Turn any library failure while decoding ``item`` into ``InputError(item, "cannot decode ... : ...")``.

    Decoders (PIL, PyAV, soundfile) raise many exception types on corrupt or foreign files (OSError,
    SyntaxError, struct.error, ValueError, RuntimeError, ...); the user gets one clear error instead.
    """
    try:
        yield
    except InputError:
        raise
    except MemoryError as err:
        raise InputError(item, f"too large to decode as {what}") from err
    except Exception as err:
        hint = kind_hint(Path(item)) if isinstance(item, (str, Path)) else ""
        message = str(err).strip() or type(err).__name__
        raise InputError(item, f"cannot decode as {what}{hint}: {message}") from err
