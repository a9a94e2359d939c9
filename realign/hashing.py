"""SHA-256 of model files, remembered by (path, size, mtime) so that multi-GB inputs are hashed once.

Both the re-alignment recipe (the hashes of its inputs) and the experiment runner (system ids) need
them, and a β sweep re-reads the same 13 GB inputs many times: a cache hit costs one ``stat``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any

from resta_bench.storage.atomic import write_text_atomic
from tqdm import tqdm

log = logging.getLogger(__name__)

_BLOCK_BYTES = 1 << 23


def default_cache_path() -> Path:
    """``$RESTA_HASH_CACHE``, else ``$XDG_CACHE_HOME/resta-bench/sha256.json`` (XDG default ~/.cache)."""
    if os.environ.get("RESTA_HASH_CACHE"):
        return Path(os.environ["RESTA_HASH_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "resta-bench" / "sha256.json"


def sha256_file(path: Path, *, stop: threading.Event | None = None, progress: bool = False) -> str:
    """The file's sha256; "" if ``stop`` is set before it is done."""
    digest = hashlib.sha256()
    buffer = memoryview(bytearray(_BLOCK_BYTES))
    size = path.stat().st_size
    show = progress and size > 4 * _BLOCK_BYTES  # only multi-GB shards take long enough to watch
    with (
        open(path, "rb", buffering=0) as handle,
        tqdm(
            total=size,
            unit="B",
            unit_scale=True,
            desc=f"sha256 {path.name}",
            file=sys.stderr,
            disable=not show,
            leave=False,
        ) as bar,
    ):
        while read := handle.readinto(buffer):
            if stop is not None and stop.is_set():
                return ""
            digest.update(buffer[:read])
            bar.update(read)
    return digest.hexdigest()


class HashCache:
    """SHA-256 of files by (resolved path, size, mtime_ns), kept in one JSON file (``None``: in memory)."""

    def __init__(self, path: Path | None):
        self.path = path
        self.entries: dict[str, list[Any]] = {}
        self.changed = False
        if path is not None and path.exists():
            self.entries = self._read(path)

    def _read(self, path: Path) -> dict[str, list[Any]]:
        """The cached entries; a cache that is no such JSON (damaged, hand-edited) is read as empty and
        rebuilt: it only costs time, so it must not stop a run."""
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            problem = f"unreadable ({error})"
        else:
            if isinstance(entries, dict) and all(_is_entry(entry) for entry in entries.values()):
                return entries
            problem = "not a hash cache: an object of [size, mtime_ns, sha256] entries was expected"
        log.warning("hash cache %s: %s; hashing the inputs again and rebuilding it", path, problem)
        self.changed = True
        return {}

    def lookup(self, file: Path) -> str | None:
        stat = file.stat()
        cached = self.entries.get(str(file.resolve()))
        if cached and cached[0] == stat.st_size and cached[1] == stat.st_mtime_ns:
            return cached[2]
        return None

    def remember(self, file: Path, digest: str) -> None:
        stat = file.stat()
        self.entries[str(file.resolve())] = [stat.st_size, stat.st_mtime_ns, digest]
        self.changed = True

    def sha256(self, file: Path) -> str:
        digest = self.lookup(file)
        if digest is None:
            digest = sha256_file(file, progress=True)
            self.remember(file, digest)
        return digest

    def save(self) -> None:
        """Atomic, with a temporary file of its own, so concurrent savers never clash (the last one wins).

        A cache that cannot be written (a full disk, a read-only home) is said once and skipped: the
        run's own output matters more than the time the cache would save next time."""
        if self.path is None or not self.changed:
            return
        try:
            write_text_atomic(self.path, json.dumps(self.entries))
        except OSError as error:
            log.warning("hash cache %s: not saved (%s)", self.path, error.strerror or error)
        self.changed = False


def _is_entry(entry: Any) -> bool:
    return (
        isinstance(entry, list)
        and len(entry) == 3
        and all(isinstance(value, int) for value in entry[:2])
        and isinstance(entry[2], str)
    )
