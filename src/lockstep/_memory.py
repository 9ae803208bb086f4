"""Handing freed memory back to the system between phases of a long job.

Arrow's pool and glibc's malloc both keep freed memory for reuse; between the phases of a
detection (one detector, then the next; one bucket of pairs, then the next) that only
inflates the peak. Without glibc (macOS, musl) the trim is skipped.
"""
from __future__ import annotations

import ctypes
import functools
import gc
from typing import Any

import pyarrow as pa

__all__ = ["libc", "release_memory"]


@functools.lru_cache(maxsize=1)
def libc() -> Any:
    """glibc through ctypes, or None where there is no glibc."""
    try:
        lib = ctypes.CDLL("libc.so.6")
        lib.mallopt, lib.malloc_trim  # noqa: B018 (glibc only)
    except (OSError, AttributeError):
        return None
    return lib


def release_memory(*, collect: bool = False) -> None:
    """Give memory freed by Arrow and by malloc back to the system; ``collect`` first runs
    Python's garbage collector (for reference cycles holding large arrays)."""
    if collect:
        gc.collect()
    pa.default_memory_pool().release_unused()
    lib = libc()
    if lib is not None:
        lib.malloc_trim(0)
