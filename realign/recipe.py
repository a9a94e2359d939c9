"""recipe.json: what made an output dir (method, parameters, seed, input hashes, versions, cost)."""

from __future__ import annotations

import hashlib
import resource
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import torch


def sha256_file(path: Path, block_bytes: int = 1 << 23) -> str:
    digest = hashlib.sha256()
    buffer = memoryview(bytearray(block_bytes))
    with open(path, "rb", buffering=0) as handle:
        while size := handle.readinto(buffer):
            digest.update(buffer[:size])
    return digest.hexdigest()


def hash_in_background(files: dict[str, list[Path]]) -> tuple[ThreadPoolExecutor, dict[str, Future]]:
    """Hashes every input file on a worker thread (hashlib releases the GIL) while tensors stream."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")
    futures = {
        f"{label}/{path.name}": pool.submit(sha256_file, path)
        for label, paths in files.items()
        for path in paths
    }
    return pool, futures


def collect_hashes(futures: dict[str, Future]) -> dict[str, dict[str, str]]:
    hashes: dict[str, dict[str, str]] = {}
    for key, future in futures.items():
        label, name = key.split("/", 1)
        hashes.setdefault(label, {})[name] = future.result()
    return hashes


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
