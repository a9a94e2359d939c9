"""recipe.json: what made an output dir (method, parameters, seed, input hashes, versions, cost)."""

from __future__ import annotations

import resource
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import torch
from resta_bench.realign.hashing import HashCache, sha256_file


class InputHasher:
    """Hashes input files on a worker thread (hashlib releases the GIL) while tensors stream; files the
    cache knows (same path, size and mtime) are not read again.

    Leaving the ``with`` block stops hashing at once, so an error is not held up by a large shard.
    """

    def __init__(self, files: dict[str, list[Path]], cache: HashCache) -> None:
        self._cache = cache
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")
        self._files = {(label, path.name): path for label, paths in files.items() for path in paths}
        self._known = {key: cache.lookup(path) for key, path in self._files.items()}
        self._futures: dict[tuple[str, str], Future] = {
            key: self._pool.submit(sha256_file, path, stop=self._stop)
            for key, path in self._files.items()
            if self._known[key] is None
        }

    def results(self) -> dict[str, dict[str, str]]:
        """{input label: {file name: sha256}}, waiting for what is still being hashed; new hashes go
        into the cache, which is saved."""
        for key, future in self._futures.items():
            self._known[key] = future.result()
            self._cache.remember(self._files[key], self._known[key])
        self._cache.save()
        hashes: dict[str, dict[str, str]] = {}
        for (label, name), digest in self._known.items():
            hashes.setdefault(label, {})[name] = digest
        return hashes

    def __enter__(self) -> InputHasher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)


def package_version() -> str:
    try:
        return metadata.version("resta-bench")
    except metadata.PackageNotFoundError:
        return "unknown"


def peak_rss_bytes() -> int:
    """The process's peak resident set so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def versions() -> dict[str, str]:
    import safetensors

    return {
        "resta_bench": package_version(),
        "torch": torch.__version__,
        "safetensors": safetensors.__version__,
    }
