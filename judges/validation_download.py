"""Where a built-in labelled set's files come from: a local folder the user names, or a pinned download.

A local root (``root``, else ``$RESTA_JUDGE_VALIDATION_DIR``) is read as it is, and the SHA-256 of every
file is recorded. Otherwise the files are fetched once from raw.githubusercontent.com (``$RESTA_GITHUB_RAW``
names a mirror) at the set's pinned commit into ``$XDG_CACHE_HOME/resta-bench/judge-validation``, and a
file whose hash is not the pinned one is refused before anything is cached.
"""

from __future__ import annotations

import hashlib
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from resta_bench.judges.errors import JudgeError
from resta_bench.judges.validation_files import sha256_file
from resta_bench.judges.validation_items import LabelledItem
from resta_bench.storage.atomic import write_bytes_atomic

ROOT_ENV = "RESTA_JUDGE_VALIDATION_DIR"
RAW_ENV = "RESTA_GITHUB_RAW"  # a mirror of raw.githubusercontent.com (tests use a loopback one)
RAW_DEFAULT = "https://raw.githubusercontent.com"


@dataclass(frozen=True)
class BuiltinSet:
    name: str
    folder: str  # sub-folder of a local root (and of the download cache)
    repo: str
    commit: str
    files: Mapping[str, tuple[str, str]]  # local file -> (upstream path, pinned SHA-256)
    splits: tuple[str, ...]
    default_split: str
    read: Callable[[Path, str], list[LabelledItem]]
    fetch: Callable[[BuiltinSet, str, bool], dict[str, bytes]]  # (set, base URL, progress) -> file bytes


def raw_url(base: str, repo: str, commit: str, path: str) -> str:
    return f"{base.rstrip('/')}/{repo}/{commit}/{urllib.parse.quote(path)}"


def get(url: str, *, attempts: int = 3, timeout_s: float = 30.0) -> bytes:
    """The body at ``url``; transient failures are retried, then raised as one line naming the URL."""
    for attempt in range(1, attempts + 1):
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response:
                return response.read()
        except urllib.error.HTTPError as error:
            if error.code < 500 and error.code != 429 or attempt == attempts:
                raise _fetch_error(url, f"HTTP {error.code}") from None
        except (urllib.error.URLError, OSError) as error:
            if attempt == attempts:
                raise _fetch_error(url, str(getattr(error, "reason", error))) from None
        time.sleep(attempt)
    raise AssertionError("unreachable")


def _fetch_error(url: str, reason: str) -> JudgeError:
    return JudgeError(
        f"cannot fetch {url} ({reason}); on an offline machine name local copies with --set-dir DIR or "
        f"{ROOT_ENV}=DIR (gptfuzz/*.csv, latent_jailbreak/*.jsonl)"
    )


def fetch_files(spec: BuiltinSet, base: str, progress: bool) -> dict[str, bytes]:
    """Each of ``spec``'s files from its upstream path (a set stored upstream as it is used here)."""
    return {name: get(raw_url(base, spec.repo, spec.commit, path)) for name, (path, _) in spec.files.items()}


def download_root() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "resta-bench" / "judge-validation"


def local_root(root: str | Path | None) -> Path | None:
    """The local directory of the built-in sets: ``root``, else ``$RESTA_JUDGE_VALIDATION_DIR``, else None."""
    chosen = root or os.environ.get(ROOT_ENV)
    return Path(chosen).expanduser() if chosen else None


def set_files(spec: BuiltinSet, root: str | Path | None, *, progress: bool = True) -> tuple[Path, dict]:
    """The folder holding ``spec``'s files, and the record of where they came from.

    From a local root the files are read as they are (their hashes are recorded); otherwise they are
    downloaded once into the cache, and a cached file whose hash is not the pinned one is fetched again.
    """
    local = local_root(root)
    if local is not None:
        folder = local / spec.folder
        return folder, {"kind": "local", "dir": str(folder.resolve()), "sha256": file_hashes(spec, root)}
    folder = download_root() / spec.folder
    stale = [n for n, (_, pinned) in spec.files.items() if not _has_hash(folder / n, pinned)]
    if stale:
        base = os.environ.get(RAW_ENV) or RAW_DEFAULT
        for name, data in spec.fetch(spec, base, progress).items():
            pinned = spec.files[name][1]
            if hashlib.sha256(data).hexdigest() != pinned:
                raise JudgeError(
                    f"{spec.name}: {name} fetched from {base}/{spec.repo}@{spec.commit} is not the pinned "
                    f"file (SHA-256 {pinned[:12]}...); nothing was cached"
                )
            write_bytes_atomic(folder / name, data)
    source = {
        "kind": "github",
        "repo": spec.repo,
        "commit": spec.commit,
        "paths": sorted(path for path, _ in spec.files.values()),
        "sha256": file_hashes(spec, None),
    }
    return folder, source


def file_hashes(spec: BuiltinSet, root: str | Path | None) -> dict[str, str]:
    """SHA-256 of each of ``spec``'s files: of the local copies, or the pinned ones (nothing is fetched)."""
    local = local_root(root)
    if local is None:
        return {name: pinned for name, (_, pinned) in spec.files.items()}
    folder = local / spec.folder
    for name in spec.files:
        if not (folder / name).is_file():
            raise JudgeError(f"{folder / name}: no such file (the {spec.name} set's local copy)")
    return {name: sha256_file(folder / name) for name in spec.files}


def _has_hash(path: Path, pinned: str) -> bool:
    return path.is_file() and sha256_file(path) == pinned
