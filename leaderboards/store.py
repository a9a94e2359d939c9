"""Read a results store (docs/results-store.md) into plain records, validated by the store's schema.

The leaderboard never computes scores: it reads ``scores/*.json`` as written by the runner, rates and
the paired comparisons (``deltas``) alike. Every file goes through ``resta_bench.storage.schema`` (the
one schema the writers use too), so that a malformed file stops the build with one line naming the
file and the field, instead of a half-built site. The records are handed on as plain dicts
(``model_dump``), the form the charts, tables and pages read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resta_bench.leaderboards.errors import LeaderboardError
from resta_bench.storage.errors import StorageError
from resta_bench.storage.names import is_safe_name
from resta_bench.storage.schema import (
    AGAINST,
    ROLES,
    UTILITY_SCORES,
    VERDICTS,
    JudgmentLine,
    ScoresFile,
    SystemRecord,
    dump,
    read_lines,
    read_record,
)

log = logging.getLogger(__name__)

__all__ = ["AGAINST", "KEY_FIELDS", "ROLES", "UTILITY_SCORES", "VERDICTS", "System", "read_store"]
KEY_FIELDS = ("benchmark", "language", "category", "subcategory", "metric")  # what a score row is about


@dataclass
class System:
    """One evaluated system: its ``system.json``, its judged and utility score rows, its judgments."""

    id: str
    meta: dict[str, Any]
    judges: dict[str, dict[str, Any]] = field(default_factory=dict)  # judge id -> scores' "judge" block
    score_files: dict[str, dict[str, Any]] = field(default_factory=dict)  # judge id -> whole scores file
    rows: list[dict[str, Any]] = field(default_factory=list)  # every score row, with "judge" added
    deltas: list[dict[str, Any]] = field(default_factory=list)  # every stored delta, with "judge" added
    # judge id -> judgments file; read one system at a time while its pages are written (they are large)
    judgment_files: dict[str, Path] = field(default_factory=dict)


def read_store(results_dir: Path) -> list[System]:
    """Every system under ``results_dir`` (folders holding a ``system.json``), sorted by id."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise LeaderboardError(f"{results_dir}: not a results directory")
    systems = []
    for folder in sorted(results_dir.iterdir()):
        if not folder.is_dir() or folder.name.startswith((".", "_")):
            continue
        if not (folder / "system.json").is_file():
            log.warning("%s: no system.json, skipped", folder)
            continue
        systems.append(read_system(folder))
    if not systems:
        raise LeaderboardError(f"{results_dir}: no system folders (none holds a system.json)")
    return systems


def read_system(folder: Path) -> System:
    path = folder / "system.json"
    try:
        meta = read_record(SystemRecord, path)
    except StorageError as error:
        raise LeaderboardError(str(error)) from None
    if meta.system_id != folder.name:
        raise LeaderboardError(f"{path}: system_id: {meta.system_id!r} but the folder is {folder.name!r}")
    system = System(id=meta.system_id, meta=dump(meta))
    scores_dir = folder / "scores"
    for score_path in sorted(scores_dir.glob("*.json")) if scores_dir.is_dir() else []:
        _read_scores(system, score_path)
    judgments_dir = folder / "judgments"
    for judgment_path in sorted(judgments_dir.glob("*.jsonl")) if judgments_dir.is_dir() else []:
        system.judgment_files[_file_id(judgment_path)] = judgment_path
    return system


def _file_id(path: Path) -> str:
    """A scores or judgments file's judge id: its name, which becomes a file name and URL part of the site."""
    if not is_safe_name(path.stem):
        raise LeaderboardError(
            f"{path}: file name {path.stem!r:.60} is not a plain id (letters, digits, . _ + = -)"
        )
    return path.stem


def _read_scores(system: System, path: Path) -> None:
    key = _file_id(path)
    try:
        scores = read_record(ScoresFile, path)
    except StorageError as error:
        raise LeaderboardError(str(error)) from None
    if scores.judge.id != key:
        raise LeaderboardError(f"{path}: judge.id: {scores.judge.id!r} but the file is {key}.json")
    data = dump(scores)
    system.rows += [{**row, "judge": key} for row in data["rows"]]
    system.deltas += [{**delta, "judge": key} for delta in data["deltas"]]
    system.score_files[key] = data
    if key != UTILITY_SCORES:
        system.judges[key] = data["judge"]


def read_judgments(path: Path) -> list[dict[str, Any]]:
    """The lines of one ``judgments/<judge_id>.jsonl``, validated by the schema, as dicts."""
    try:
        return [line.model_dump(mode="json") for _, line in read_lines(JudgmentLine, path)]
    except StorageError as error:
        raise LeaderboardError(str(error)) from None
