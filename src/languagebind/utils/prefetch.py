"""Ordered, bounded background mapping: decode the next items while the model computes on the current ones."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """Loader threads: ``LANGUAGEBIND_LOADER_THREADS`` or min(4, CPU count); 0 loads in the caller's thread."""
    value = os.environ.get("LANGUAGEBIND_LOADER_THREADS")
    return max(0, int(value)) if value else min(4, os.cpu_count() or 1)


def prefetch_map(fn: Callable[[T], R], items: Iterable[T], ahead: int, workers: int | None = None) -> Iterator[R]:
    """``map(fn, items)`` in input order, computed by ``workers`` threads at most ``ahead`` items in advance.

    Memory stays bounded by ``ahead`` results. An exception raised by ``fn`` is re-raised when its item's turn
    comes. Closing the iterator early cancels the pending work. Decoders (PIL, PyAV, soundfile) and torch ops
    release the GIL, so the threads overlap with the model's compute.
    """
    workers = default_workers() if workers is None else workers
    if workers <= 0:
        yield from map(fn, items)
        return
    iterator = iter(items)
    pending: deque[Future[R]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="languagebind-load") as pool:
        try:
            pending.extend(pool.submit(fn, item) for item in islice(iterator, max(ahead, 1)))
            while pending:
                result = pending.popleft().result()
                pending.extend(pool.submit(fn, item) for item in islice(iterator, 1))
                yield result
        finally:
            for future in pending:
                future.cancel()


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last may be shorter)."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
