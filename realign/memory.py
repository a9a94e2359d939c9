"""Reusing freed memory while the engine streams row blocks.

A page fault is expensive (on the shared VMs this was built on, faulting in a fresh 16 MB block took
about 8 ms, several times the arithmetic done on it). glibc hands memory at the top of its heap back to
the kernel once M_TRIM_THRESHOLD bytes are free, and serves requests above M_MMAP_THRESHOLD with fresh
maps, so each row block's buffers would be faulted in afresh. While streaming, freed blocks are kept for
reuse instead; at the end the heap is trimmed once. Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import contextmanager

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, from glibc's <malloc.h>
MMAP_THRESHOLD = 32 << 20  # glibc's ceiling; above the engine's 16 MB blocks
STREAMING_TRIM_THRESHOLD = 1 << 30
TRIM_THRESHOLD_AFTER = 64 << 20  # where glibc's own dynamic threshold goes after large frees


def _glibc() -> ctypes.CDLL | None:
    process = ctypes.CDLL(None)
    has_both = hasattr(process, "mallopt") and hasattr(process, "malloc_trim")
    return process if has_both and hasattr(process, "gnu_get_libc_version") else None


@contextmanager
def reuse_freed_memory() -> Iterator[None]:
    libc = _glibc()
    if libc is None:
        yield
        return
    libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    libc.mallopt(M_TRIM_THRESHOLD, STREAMING_TRIM_THRESHOLD)
    try:
        yield
    finally:
        libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_AFTER)
        libc.malloc_trim(0)
