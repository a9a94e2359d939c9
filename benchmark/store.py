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

import json
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from resta_bench.benchmark.errors import ConfigError
from resta_bench.storage.atomic import write_json_atomic
from resta_bench.storage.locks import hold_lock
from resta_bench.storage.names import check_name, is_safe_name

log = logging.getLogger(__name__)

SYSTEM_FILE = "system.json"
SUITE_FILE = "suite.json"  # our record of one suite's run, beside lm-eval's own tree
UTILITY_SCORES = "lm_eval"
LOCK_FILE = ".lock"  # held by a runner (or ``resta judge``) writing into the store
VERDICTS = ("harmful", "safe", "invalid")


def read_json(path: Path) -> Any:
    """A JSON file, or a ``ConfigError`` naming it when it is damaged."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except ValueError as error:
        raise ConfigError(f"{path}: not valid JSON ({error})") from None


def read_json_object(path: Path) -> dict[str, Any]:
    data = read_json(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text with its newline) of each line, or a ``ConfigError`` at one that is not UTF-8."""
    with path.open("rb") as stream:
        for number, raw in enumerate(stream, start=1):
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError:
                raise ConfigError(f"{path}: line {number} is not UTF-8 text") from None


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of each line; a torn last line (a killed writer) is left out."""
    for number, line in text_lines(path):
        if not line.endswith("\n"):
            return
        try:
            record = json.loads(line)
        except ValueError:
            raise ConfigError(f"{path}: line {number} is not valid JSON") from None
        if not isinstance(record, dict):
            raise ConfigError(f"{path}: line {number}: expected a JSON object, got {type(record).__name__}")
        yield number, record


def _judgment_lines(path: Path) -> dict[tuple[str, int, int], dict[str, Any]]:
    judged = {}
    for number, line in read_jsonl(path):
        where = f"{path}: line {number}"
        for key in ("task", "doc_id", "verdict", "language"):
            if key not in line:
                raise ConfigError(f"{where}: missing field {key!r}")
        if line["verdict"] not in VERDICTS:
            raise ConfigError(
                f"{where}: field 'verdict' must be harmful, safe or invalid, got {line['verdict']!r}"
            )
        if not isinstance(line["task"], str) or not isinstance(line["doc_id"], int):
            raise ConfigError(f"{where}: fields 'task' and 'doc_id' must be a string and an integer")
        # A question asked for several samples has a line per sample (lines written before samples
        # existed have no index: the one sample).
        judged[(line["task"], line["doc_id"], line.get("sample", 0))] = line
    return judged


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

    # system.json
    def read_system(self, system_id: str) -> dict[str, Any] | None:
        path = self.system_dir(system_id) / SYSTEM_FILE
        return read_json_object(path) if path.is_file() else None

    def write_system(self, system_id: str, meta: dict[str, Any]) -> None:
        write_json_atomic(self.system_dir(system_id) / SYSTEM_FILE, meta)

    def require_system(self, system_id: str) -> dict[str, Any]:
        meta = self.read_system(system_id)
        if meta is None:
            raise ConfigError(f"{self.root}: no system {system_id!r} here (systems: {self.known_systems()})")
        return meta

    # names: the experiment file's name for a system (system.json "name") stands for its id
    def names(self) -> dict[str, str | None]:
        """System id -> its name (None for a system that has none), for every system, sorted by id."""
        return {system_id: (self.read_system(system_id) or {}).get("name") for system_id in self.system_ids()}

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

    def suite_record(self, system_id: str, suite: str) -> dict[str, Any] | None:
        """The finished suite's record (settings, task hashes, times), or None while it is not done."""
        path = self.suite_dir(system_id, suite) / SUITE_FILE
        return read_json_object(path) if path.is_file() else None

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

    def finish_suite(self, system_id: str, suite: str, record: dict[str, Any]) -> Path:
        """Write the suite's record into its staging folder and rename that folder into place."""
        staging = self.suite_staging_dir(system_id, suite)
        write_json_atomic(staging / SUITE_FILE, record)
        final = self.suite_dir(system_id, suite)
        os.replace(staging, final)
        return final

    # judgments and scores
    def judgments_path(self, system_id: str, judge_id: str) -> Path:
        return judgments_path(self.system_dir(system_id), judge_id)

    def scores_path(self, system_id: str, judge_id: str) -> Path:
        return scores_path(self.system_dir(system_id), judge_id)

    def read_scores(self, system_id: str) -> dict[str, dict[str, Any]]:
        """Every scores file of a system, by judge id (``lm_eval`` for utility metrics)."""
        folder = self.system_dir(system_id) / "scores"
        return {path.stem: read_json_object(path) for path in sorted(folder.glob("*.json"))}

    def read_judgments(self, system_id: str, judge_id: str) -> dict[tuple[str, int, int], dict[str, Any]]:
        return read_judgments(self.system_dir(system_id), judge_id)

    # model weights made by the runner
    def model_dir(self, system_id: str, models_dir: Path | None = None) -> Path:
        return (models_dir or self.root / ".models") / check_name(system_id, "system id")


# A system folder's judged files; also what ``resta judge`` writes into a bare lm-eval output folder.
def judgments_path(system_dir: Path, judge_id: str) -> Path:
    return system_dir / "judgments" / f"{check_name(judge_id, 'judge id')}.jsonl"


def scores_path(system_dir: Path, judge_id: str) -> Path:
    return system_dir / "scores" / f"{check_name(judge_id, 'judge id')}.json"


def read_judgments(system_dir: Path, judge_id: str) -> dict[tuple[str, int, int], dict[str, Any]]:
    """One judge's judgments in a system folder keyed by (task, doc_id, sample); where a line repeats
    (a resumed run), the last one counts. A ``ConfigError`` says which judges the folder has when not
    this one."""
    path = judgments_path(system_dir, judge_id)
    if not path.is_file():
        known = sorted(p.stem for p in path.parent.glob("*.jsonl"))
        raise ConfigError(f"{path}: no judgments by {judge_id!r} (judged here: {', '.join(known) or 'none'})")
    return _judgment_lines(path)
