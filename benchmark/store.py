"""The results store: one folder per system, plain files, every write atomic (docs/results-store.md).

Who writes what, so that concurrent jobs never write the same file:

- a generation job writes only ``<system>/lm_eval/<suite>/``, built in ``lm_eval/.<suite>.partial``
  and renamed into place when lm-eval has finished (so a folder that exists is complete);
- judging writes ``judgments/<judge_id>.jsonl`` and ``scores/<judge_id>.json`` whole (one job per system);
- the runner's driver writes ``system.json``.

A runner (and ``resta judge`` on a store's system) holds the store's lock (``<store>/.lock``) while it
writes, so a second one waits, then finds the work done. Every name that becomes a path component is
checked here (``storage.names.check_name``), so nothing outside the store can be reached through one.

Re-aligned and fine-tuned model weights are not results: they go to ``<store>/.models/<system_id>``
(or the experiment's ``models_dir``) and are never published.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from resta_bench.benchmark.errors import ConfigError
from resta_bench.storage.errors import StorageError
from resta_bench.storage.locks import hold_lock
from resta_bench.storage.names import check_name, is_safe_name
from resta_bench.storage.schema import UTILITY_SCORES as UTILITY_SCORES  # re-exported for the runner
from resta_bench.storage.schema import (
    JudgmentLine,
    ScoresFile,
    SuiteRecord,
    SystemRecord,
    as_record,
    dump,
    read_json,
    read_lines,
    read_record,
    write_record,
)

log = logging.getLogger(__name__)

SYSTEM_FILE = "system.json"
SUITE_FILE = "suite.json"  # our record of one suite's run, beside lm-eval's own tree
LOCK_FILE = ".lock"  # held by a runner (or ``resta judge``) writing into the store


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON object that is not a store record (lm-eval's results, realign's recipe.json), or one
    :class:`StorageError` line naming the file."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise StorageError(f"{path}: expected a JSON object at the top level, got {type(data).__name__}")
    return data


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text with its newline) of each line, or a ``StorageError`` at one that is not UTF-8."""
    with path.open("rb") as stream:
        for number, raw in enumerate(stream, start=1):
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError:
                raise StorageError(f"{path}: line {number} is not UTF-8 text") from None


Judged = dict[tuple[str, int, int], JudgmentLine]


def _judgment_lines(path: Path) -> Judged:
    # A question asked for several samples has a line per sample (lines written before samples
    # existed have no index: the one sample). Where a line repeats (a resumed run), the last one counts.
    return {line.key: line for _, line in read_lines(JudgmentLine, path)}


class ResultsStore:
    """Paths and atomic reads / writes of one results folder."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def lock(self) -> AbstractContextManager[None]:
        """The store's lock for a writer; a second one waits (one log line naming the holder's pid)."""
        return hold_lock(self.root / LOCK_FILE, what=f"results store {self.root}", wait=True)

    # Every path method checks its names, so no caller can reach outside the store.
    def system_dir(self, system_id: str) -> Path:
        return self.root / check_name(system_id, "system id")

    def system_ids(self) -> list[str]:
        """Systems that have a ``system.json``, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.parent.name for p in self.root.glob(f"*/{SYSTEM_FILE}"))

    # system.json, through the schema (storage/schema): a damaged file is one line naming file and field
    def read_system_record(self, system_id: str) -> SystemRecord | None:
        path = self.system_dir(system_id) / SYSTEM_FILE
        return read_record(SystemRecord, path) if path.is_file() else None

    def read_system(self, system_id: str) -> dict[str, Any] | None:
        """``system.json`` validated, as a plain dict (for merging an update into it)."""
        record = self.read_system_record(system_id)
        return None if record is None else dump(record)

    def write_system(self, system_id: str, meta: SystemRecord | Mapping[str, Any]) -> None:
        """Write ``system.json``; a mapping is checked against the schema first: nothing malformed lands."""
        path = self.system_dir(system_id) / SYSTEM_FILE
        write_record(path, as_record(SystemRecord, meta, path))

    def require_system(self, system_id: str) -> SystemRecord:
        meta = self.read_system_record(system_id)
        if meta is None:
            raise ConfigError(f"{self.root}: no system {system_id!r} here (systems: {self.known_systems()})")
        return meta

    # names: the experiment file's name for a system (system.json "name") stands for its id
    def names(self) -> dict[str, str | None]:
        """System id -> its name (None for a system that has none), for every system, sorted by id."""
        return {system_id: _name(self.read_system_record(system_id)) for system_id in self.system_ids()}

    def known_systems(self) -> str:
        """``name (id), ...`` of every system, for error messages (``–`` stands for a missing name)."""
        pairs = [f"{name or '–'} ({system_id})" for system_id, name in self.names().items()]
        return ", ".join(pairs) or "none"

    def resolve(self, name_or_id: str, field: str) -> str:
        """The id of the system with this id or, failing that, this name; ``field`` is the flag or argument
        the value came from (``--a``, ``system_a``), named in the error when no single system matches."""
        if is_safe_name(name_or_id) and (self.system_dir(name_or_id) / SYSTEM_FILE).is_file():
            return name_or_id
        named = [system_id for system_id, name in self.names().items() if name == name_or_id]
        if len(named) == 1:
            return named[0]
        if named:
            raise ConfigError(
                f"{field}: {name_or_id!r} names {len(named)} systems: {', '.join(named)}; give one's id"
            )
        raise ConfigError(
            f"{field}: no system {name_or_id!r} in {self.root}, by name or id "
            f"(systems: {self.known_systems()})"
        )

    # lm-eval output, one folder per suite
    def suite_dir(self, system_id: str, suite: str) -> Path:
        return self.system_dir(system_id) / "lm_eval" / check_name(suite, "suite")

    def suite_staging_dir(self, system_id: str, suite: str) -> Path:
        final = self.suite_dir(system_id, suite)
        return final.with_name(f".{final.name}.partial")

    def read_suite_record(self, system_id: str, suite: str) -> SuiteRecord | None:
        """The finished suite's record (settings, task hashes, times), or None while it is not done."""
        path = self.suite_dir(system_id, suite) / SUITE_FILE
        return read_record(SuiteRecord, path) if path.is_file() else None

    def suite_record(self, system_id: str, suite: str) -> dict[str, Any] | None:
        record = self.read_suite_record(system_id, suite)
        return None if record is None else dump(record)

    def begin_suite(self, system_id: str, suite: str) -> Path:
        """A fresh, empty staging folder; what a killed attempt left there is thrown away, and said so.

        Call it with the store's lock held, so that no live job owns the staging folder.
        """
        final = self.suite_dir(system_id, suite)
        if final.exists():
            raise ConfigError(f"{final}: exists without {SUITE_FILE}, so no finished run wrote it; remove it")
        staging = self.suite_staging_dir(system_id, suite)
        if staging.exists():
            shutil.rmtree(staging)
            log.warning("%s: removed the unfinished generation of an interrupted run", staging)
        staging.mkdir(parents=True)
        return staging

    def finish_suite(self, system_id: str, suite: str, record: SuiteRecord | Mapping[str, Any]) -> Path:
        """Write the suite's record into its staging folder and rename that folder into place."""
        staging = self.suite_staging_dir(system_id, suite)
        path = staging / SUITE_FILE
        write_record(path, as_record(SuiteRecord, record, path))
        final = self.suite_dir(system_id, suite)
        os.replace(staging, final)
        return final

    # judgments and scores
    def judgments_path(self, system_id: str, judge_id: str) -> Path:
        return judgments_path(self.system_dir(system_id), judge_id)

    def scores_path(self, system_id: str, judge_id: str) -> Path:
        return scores_path(self.system_dir(system_id), judge_id)

    def read_scores(self, system_id: str) -> dict[str, ScoresFile]:
        """Every scores file of a system, by judge id (``lm_eval`` for utility metrics)."""
        folder = self.system_dir(system_id) / "scores"
        return {path.stem: read_record(ScoresFile, path) for path in sorted(folder.glob("*.json"))}

    def read_judgments(self, system_id: str, judge_id: str) -> Judged:
        return read_judgments(self.system_dir(system_id), judge_id)

    # model weights made by the runner
    def model_dir(self, system_id: str, models_dir: Path | None = None) -> Path:
        return (models_dir or self.root / ".models") / check_name(system_id, "system id")


# A system folder's judged files; also what ``resta judge`` writes into a bare lm-eval output folder.
def judgments_path(system_dir: Path, judge_id: str) -> Path:
    return system_dir / "judgments" / f"{check_name(judge_id, 'judge id')}.jsonl"


def scores_path(system_dir: Path, judge_id: str) -> Path:
    return system_dir / "scores" / f"{check_name(judge_id, 'judge id')}.json"


def read_judgments(system_dir: Path, judge_id: str) -> Judged:
    """One judge's judgments in a system folder keyed by (task, doc_id, sample); where a line repeats
    (a resumed run), the last one counts. A ``ConfigError`` says which judges the folder has when not
    this one."""
    path = judgments_path(system_dir, judge_id)
    if not path.is_file():
        known = sorted(p.stem for p in path.parent.glob("*.jsonl"))
        raise ConfigError(f"{path}: no judgments by {judge_id!r} (judged here: {', '.join(known) or 'none'})")
    return _judgment_lines(path)


def _name(record: SystemRecord | None) -> str | None:
    return None if record is None else record.name
