"""Giving memory back to the operating system between the stages of a run.

A national-size study (400,000 respondents x 4 rounds) makes frames of a few hundred MB in
processing, in the disclosure plan and in every analysis notebook. Python frees them when the
stage ends, but the C allocators keep the pages: glibc's ``malloc`` (numpy, pandas) until
``malloc_trim``, Arrow's pool (pandas' text columns, parquet) until ``release_unused``, and
objects in reference cycles (figures, frames held by them) until a garbage collection. The
parent process would then hold the processing stage's peak for the whole run and each worker
the peak of the largest notebook it ran, and the process tree's total is their sum.

:func:`release_memory` does all three, but only in a process that holds more than
``threshold`` bytes: a small run (the demo) pays nothing for it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import logging
import os
import sys
from functools import lru_cache

log = logging.getLogger(__name__)

#: Below this resident size a process is left alone (a full collection in a process with a
#: big heap costs a fraction of a second; the demo's workers stay well under it).
RELEASE_THRESHOLD = 768 * 2**20


def resident_bytes() -> int:
    """This process's resident set size in bytes (0 where /proc is not available)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


@lru_cache(maxsize=1)
def _malloc_trim():
    """glibc's ``malloc_trim`` (None elsewhere: musl, macOS, Windows)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_memory(threshold: int = RELEASE_THRESHOLD) -> int:
    """Collect garbage and hand freed pages back to the system when this process holds more
    than ``threshold`` bytes; returns the bytes released (0 when nothing was done)."""
    before = resident_bytes()
    if before <= threshold:
        return 0
    gc.collect()
    if "pyarrow" in sys.modules:  # only if loaded: never import it for this
        with contextlib.suppress(Exception):  # an optimisation only: never fails a run
            sys.modules["pyarrow"].default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
    after = resident_bytes()
    log.debug("memory: %.0f MB -> %.0f MB resident", before / 2**20, after / 2**20)
    return max(before - after, 0)
