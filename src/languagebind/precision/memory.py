"""The process's C heap (glibc): opt-in allocator tuning for programs, and handing free pages back.

``tune_cpu_allocator`` changes the whole process for good, so the library never calls it: programs opt in (the
``languagebind`` CLI before it runs a command, the benchmarks). ``release_free_memory`` only returns pages that are
already free and is safe anywhere.
"""

from __future__ import annotations

import ctypes
import os
import sys
from functools import cache

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # glibc mallopt parameters
# Process state, not a cache: glibc's mallopt cannot be undone, so this records whether it has been applied.
_allocator_tuned = False


def tune_cpu_allocator() -> bool:
    """Keep freed memory in the process heap (glibc): activations then reuse it instead of page-faulting.

    By default glibc serves blocks over 32 MB with fresh ``mmap`` pages and returns them on ``free``, so every
    forward pass re-faults (and the kernel zeroes) its large activations: ~500k page faults and ~15% of the CPU
    time for a ViT-L batch of 8. With ``M_MMAP_MAX=0`` and a high trim threshold the heap keeps them for reuse
    (the process then holds its high-water mark until exit). Process-wide and permanent, so only a program may
    call it (the CLI and the benchmarks do; building or using a model never does); once per process;
    ``LANGUAGEBIND_MALLOC_TUNING=0`` turns it off; a no-op off glibc. Returns whether it is in effect.
    """
    global _allocator_tuned
    if _allocator_tuned or os.environ.get("LANGUAGEBIND_MALLOC_TUNING", "1") == "0":
        return _allocator_tuned
    libc = _libc()
    if libc is None:
        return False
    _allocator_tuned = libc.mallopt(_M_MMAP_MAX, 0) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1) == 1
    return _allocator_tuned


def allocator_tuned() -> bool:
    """Whether ``tune_cpu_allocator`` is in effect in this process."""
    return _allocator_tuned


def release_free_memory() -> None:
    """Give the heap's free pages back to the system (glibc ``malloc_trim``; a no-op elsewhere)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


@cache
def _libc() -> ctypes.CDLL | None:
    """The C library's handle (loaded once), or None off glibc."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt.argtypes, libc.malloc_trim.argtypes = [ctypes.c_int, ctypes.c_int], [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    return libc
