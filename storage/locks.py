"""Advisory locks on output folders and results stores, released by the kernel when the holder dies.

A lock is ``flock`` on a small file that names its holder (``pid@host``), so a refusal can say who
holds it, and a process killed with ``kill -9`` never leaves a lock behind: whatever staging it left
is then known to be stale (see :mod:`resta_bench.storage.folders`).
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from resta_bench.storage.errors import StorageError

log = logging.getLogger(__name__)


def _holder(lock_path: Path) -> str:
    try:
        return lock_path.read_text(encoding="utf-8").strip() or "unknown"
    except OSError:
        return "unknown"


def _note_holder(handle: TextIO) -> None:
    """Names this process in the lock file; best effort: on a full disk the lock holds without it."""
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}@{socket.gethostname()}\n")
        handle.flush()
    except OSError:
        pass


@contextmanager
def hold_lock(lock_path: Path, *, what: str, wait: bool = False) -> Iterator[None]:
    """Hold the lock at ``lock_path`` for the ``with`` block.

    When another process holds it: ``wait=False`` raises one :class:`StorageError` line naming
    ``what`` and the holder's pid; ``wait=True`` says so once on the log and blocks until it is free.
    """
    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(lock_path)
            if not wait:
                raise StorageError(
                    f"{what}: in use by another resta process (pid {holder}); wait for it to finish"
                ) from None
            log.warning("%s: in use by another resta process (pid %s); waiting for it", what, holder)
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            _note_holder(handle)
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
