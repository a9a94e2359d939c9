"""Output folders the tool owns: never an input, replaced only when resta wrote them, staged, locked.

Every command that writes a folder (``realign``, ``safety-vector``, ``finetune``, ``demo``, ``tables
--out``, the leaderboard, the runner's models) goes through :func:`staged_output` (built beside the
target, renamed into place when complete) or :func:`owned_output` (written in place, for long work whose
records name their own paths). Both

- refuse an ``--out`` that is an input, contains one or lies inside one (symbolic links resolved),
  and an ``--out`` that is itself a symbolic link;
- replace an existing non-empty folder only with ``overwrite`` and only when it holds the
  :data:`MARKER` file that this module writes into every folder it makes;
- hold a lock beside the target (``.<name>.lock``) while they work, so a second writer is refused
  with the first one's pid, and remove what a killed writer left (its lock died with it).

The layout beside a target ``out``::

    .out.lock              the lock; names its holder while held
    .out.<pid>.partial     a folder being built (a stale one is removed by the next writer)
    .out.<pid>.retired     the previous output during the swap (restored if the swap was cut short)
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from resta_bench.storage.atomic import write_json_atomic
from resta_bench.storage.errors import StorageError
from resta_bench.storage.locks import hold_lock

log = logging.getLogger(__name__)

MARKER = ".resta-output"  # in every folder resta made; only such a folder may be overwritten


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output(
    out: Path | str,
    *,
    overwrite: bool,
    inputs: Mapping[str, Path | str] | None = None,
    flag: str = "--out",
    overwrite_flag: str = "--overwrite",
) -> Path:
    """The absolute, resolved target, or a one-line :class:`StorageError` saying why it is refused.

    ``inputs`` maps the names the user gave inputs under (``--sft``) to their paths; ``flag`` and
    ``overwrite_flag`` are the words of the interface called (``out=`` / ``overwrite=True`` in Python).
    """
    given = Path(out).absolute()
    if given.is_symlink():
        raise StorageError(f"{flag} {given}: is a symbolic link; give the folder it points to")
    target = given.resolve()
    for name, path in (inputs or {}).items():
        source = Path(path).absolute().resolve()
        if target == source:
            raise StorageError(f"{flag} {target}: is also the input {name}")
        if _inside(source, target):
            raise StorageError(f"{flag} {target}: contains the input {name} ({source})")
        if _inside(target, source):
            raise StorageError(f"{flag} {target}: lies inside the input {name} ({source})")
    if target.exists() and not target.is_dir():
        raise StorageError(f"{flag} {target}: exists and is not a folder")
    if target.is_dir() and any(target.iterdir()):
        if not overwrite:
            raise StorageError(f"{flag} {target}: already exists (pass {overwrite_flag} to replace it)")
        if not (target / MARKER).is_file():
            raise StorageError(
                f"{flag} {target}: not a folder resta wrote (no {MARKER}), so it is never replaced; "
                "remove it yourself or choose another folder"
            )
    return target


def lock_path(target: Path) -> Path:
    return target.parent / f".{target.name}.lock"


def _leftovers(target: Path, kind: str) -> list[Path]:
    return sorted(Path(p) for p in glob.glob(str(target.parent / f".{glob.escape(target.name)}.*.{kind}")))


def remove_stale(target: Path) -> None:
    """What a killed writer of ``target`` left; call with ``target``'s lock held (so none is live)."""
    for retired in _leftovers(target, "retired"):
        if not target.exists():  # killed mid-swap: the previous output is the complete one
            retired.rename(target)
            log.warning("%s: restored the previous output, which an interrupted run had moved aside", target)
        else:
            shutil.rmtree(retired, ignore_errors=True)
            log.warning("%s: removed, left behind by an interrupted run", retired)
    for partial in _leftovers(target, "partial"):
        shutil.rmtree(partial, ignore_errors=True)
        log.warning("%s: removed unfinished output of an interrupted run", partial)


def _mark(folder: Path, kind: str) -> None:
    write_json_atomic(folder / MARKER, {"written_by": "resta-bench", "kind": kind})


def _swap_into_place(staging: Path, target: Path) -> None:
    retired = target.with_name(f".{target.name}.{os.getpid()}.retired")
    if target.exists():
        target.rename(retired)
    try:
        staging.rename(target)
    except BaseException:
        if retired.exists():
            retired.rename(target)
        raise
    shutil.rmtree(retired, ignore_errors=True)


@contextmanager
def staged_output(
    out: Path | str,
    *,
    overwrite: bool,
    kind: str,
    inputs: Mapping[str, Path | str] | None = None,
    flag: str = "--out",
    overwrite_flag: str = "--overwrite",
) -> Iterator[Path]:
    """Yields an empty staging folder beside ``out``; on success it replaces ``out``, on failure it goes.

    ``kind`` (``"re-aligned model"``) is written into the marker. See :func:`check_output` for the rest.
    """
    options = dict(overwrite=overwrite, inputs=inputs, flag=flag, overwrite_flag=overwrite_flag)
    target = check_output(out, **options)
    target.parent.mkdir(parents=True, exist_ok=True)
    with hold_lock(lock_path(target), what=f"{flag} {target}"):
        remove_stale(target)
        check_output(target, **options)  # again under the lock: another writer may have finished
        staging = target.with_name(f".{target.name}.{os.getpid()}.partial")
        staging.mkdir()  # mkdir applies the umask (mkdtemp would make it 0700)
        try:
            _mark(staging, kind)
            yield staging
            _swap_into_place(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise


@contextmanager
def owned_output(
    out: Path | str,
    *,
    overwrite: bool,
    kind: str,
    flag: str = "--out",
    overwrite_flag: str = "--overwrite",
) -> Iterator[Path]:
    """Yields ``out`` itself, emptied when it is replaced, marked and locked for the ``with`` block."""
    options = dict(overwrite=overwrite, flag=flag, overwrite_flag=overwrite_flag)
    target = check_output(out, **options)
    target.parent.mkdir(parents=True, exist_ok=True)
    with hold_lock(lock_path(target), what=f"{flag} {target}"):
        remove_stale(target)
        check_output(target, **options)
        retired = target.with_name(f".{target.name}.{os.getpid()}.retired")
        if target.is_dir() and any(target.iterdir()):
            target.rename(retired)
        target.mkdir(exist_ok=True)  # before the old one is deleted: a kill now leaves only stale files
        _mark(target, kind)
        shutil.rmtree(retired, ignore_errors=True)
        yield target
