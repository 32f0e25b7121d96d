"""The one progress bar (tqdm on stderr): shown on a terminal unless told otherwise, never in logs or CI."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any


def progress(iterable: Iterable[Any] | None = None, *, total: int | None = None, desc: str = "",
             enabled: bool | None = None, unit: str = "it", initial: int = 0, leave: bool = False,
             **options: Any) -> Any:
    """A tqdm bar over ``iterable`` (or a manual one with ``total``): ``enabled=None`` shows it only when stderr
    is a terminal; ``options`` go to tqdm (``smoothing``, ``dynamic_ncols``, ...)."""
    from tqdm.auto import tqdm

    if total is None and iterable is not None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    show = enabled if enabled is not None else sys.stderr.isatty()
    return tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, leave=leave, disable=not show,
                **options)
