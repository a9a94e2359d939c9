"""recipe.json: what made an output dir (method, parameters, seed, input hashes, versions, cost)."""

from __future__ import annotations

import hashlib
import resource
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import torch


def sha256_file(path: Path, stop: threading.Event | None = None, block_bytes: int = 1 << 23) -> str:
    """The file's sha256; "" if ``stop`` is set before it is done."""
    digest = hashlib.sha256()
    buffer = memoryview(bytearray(block_bytes))
    with open(path, "rb", buffering=0) as handle:
        while size := handle.readinto(buffer):
            if stop is not None and stop.is_set():
                return ""
            digest.update(buffer[:size])
    return digest.hexdigest()


class InputHasher:
    """Hashes input files on a worker thread (hashlib releases the GIL) while tensors stream.

    Leaving the ``with`` block stops hashing at once, so an error is not held up by a large shard.
    """

    def __init__(self, files: dict[str, list[Path]]) -> None:
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")
        self._futures: dict[tuple[str, str], Future] = {
            (label, path.name): self._pool.submit(sha256_file, path, self._stop)
            for label, paths in files.items()
            for path in paths
        }

    def results(self) -> dict[str, dict[str, str]]:
        """{input label: {file name: sha256}}, waiting for what is still being hashed."""
        hashes: dict[str, dict[str, str]] = {}
        for (label, name), future in self._futures.items():
            hashes.setdefault(label, {})[name] = future.result()
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
