"""The results store: one folder per system, plain files, every write atomic (docs/results-store.md).

Who writes what, so that concurrent jobs never write the same file:

- a generation job writes only ``<system>/lm_eval/<suite>/``, built in ``lm_eval/.<suite>.partial``
  and renamed into place when lm-eval has finished (so a folder that exists is complete);
- judging appends to ``judgments/<judge_id>.jsonl`` (one job per system);
- the runner's driver writes ``system.json`` and ``scores/*.json``.

Re-aligned and fine-tuned model weights are not results: they go to ``<store>/.models/<system_id>``
(or the experiment's ``models_dir``) and are never published.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from resta_bench.benchmark.errors import ConfigError
from resta_bench.storage.atomic import write_json_atomic

SYSTEM_FILE = "system.json"
SUITE_FILE = "suite.json"  # our record of one suite's run, beside lm-eval's own tree
UTILITY_SCORES = "lm_eval"


def read_json(path: Path) -> Any:
    """A JSON file, or a ``ConfigError`` naming it when it is damaged."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ConfigError(f"{path}: not valid JSON ({error})") from None


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The complete lines of a JSON Lines file; a torn last line (a killed writer) is skipped."""
    with path.open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            if not line.endswith("\n"):
                return
            try:
                yield json.loads(line)
            except ValueError:
                raise ConfigError(f"{path}: line {number} is not valid JSON") from None


class ResultsStore:
    """Paths and atomic reads / writes of one results folder."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def system_dir(self, system_id: str) -> Path:
        return self.root / system_id

    def system_ids(self) -> list[str]:
        """Systems that have a ``system.json``, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.parent.name for p in self.root.glob(f"*/{SYSTEM_FILE}"))

    # system.json
    def read_system(self, system_id: str) -> dict[str, Any] | None:
        path = self.system_dir(system_id) / SYSTEM_FILE
        return read_json(path) if path.is_file() else None

    def write_system(self, system_id: str, meta: dict[str, Any]) -> None:
        write_json_atomic(self.system_dir(system_id) / SYSTEM_FILE, meta)

    def require_system(self, system_id: str) -> dict[str, Any]:
        meta = self.read_system(system_id)
        if meta is None:
            known = ", ".join(self.system_ids()) or "none"
            raise ConfigError(f"{self.root}: no system {system_id!r} here (systems: {known})")
        return meta

    # lm-eval output, one folder per suite
    def suite_dir(self, system_id: str, suite: str) -> Path:
        return self.system_dir(system_id) / "lm_eval" / suite

    def suite_staging_dir(self, system_id: str, suite: str) -> Path:
        return self.system_dir(system_id) / "lm_eval" / f".{suite}.partial"

    def suite_record(self, system_id: str, suite: str) -> dict[str, Any] | None:
        """The finished suite's record (settings, task hashes, times), or None while it is not done."""
        path = self.suite_dir(system_id, suite) / SUITE_FILE
        return read_json(path) if path.is_file() else None

    def begin_suite(self, system_id: str, suite: str) -> Path:
        """A fresh, empty staging folder (what a killed attempt left there is thrown away)."""
        staging = self.suite_staging_dir(system_id, suite)
        shutil.rmtree(staging, ignore_errors=True)
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
        return self.system_dir(system_id) / "judgments" / f"{judge_id}.jsonl"

    def scores_path(self, system_id: str, judge_id: str) -> Path:
        return self.system_dir(system_id) / "scores" / f"{judge_id}.json"

    def read_scores(self, system_id: str) -> dict[str, dict[str, Any]]:
        """Every scores file of a system, by judge id (``lm_eval`` for utility metrics)."""
        folder = self.system_dir(system_id) / "scores"
        return {path.stem: read_json(path) for path in sorted(folder.glob("*.json"))}

    def read_judgments(self, system_id: str, judge_id: str) -> dict[tuple[str, int], dict[str, Any]]:
        """Judgments keyed by (task, doc_id); where a line repeats (a resumed run), the last one counts."""
        path = self.judgments_path(system_id, judge_id)
        if not path.is_file():
            known = sorted(p.stem for p in path.parent.glob("*.jsonl"))
            raise ConfigError(
                f"{path}: no judgments by {judge_id!r} (judged here: {', '.join(known) or 'none'})"
            )
        return {(line["task"], int(line["doc_id"])): line for line in read_jsonl(path)}

    # model weights made by the runner
    def model_dir(self, system_id: str, models_dir: Path | None = None) -> Path:
        return (models_dir or self.root / ".models") / system_id
