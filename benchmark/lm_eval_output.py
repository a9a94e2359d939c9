"""Reading lm-eval's ``--output_path`` trees: ``results_<time>.json`` and ``samples_<task>_<time>.jsonl``.

lm-eval (0.4.x) writes, under the output path, one folder per model (its sanitised name) holding a
results file per run and a samples file per task and run, one JSON object per line with ``doc_id``,
``doc``, ``resps`` (raw generations: ``resps[0]`` holds a generation task's responses, one unless the
task asked for several per document with ``repeats``) and ``filtered_resps``. A task run with several
filters logs each document once per filter. Samples are matched by task, ``doc_id`` and the response's
index, never by line order; where a task was run more than once, its latest samples file counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resta_bench.benchmark.errors import ConfigError
from resta_bench.benchmark.store import text_lines


@dataclass(frozen=True)
class Sample:
    task: str
    doc_id: int
    doc: dict[str, Any]
    response: str  # the raw generation, resps[0][sample]
    path: Path
    sample: int = 0  # which of the document's responses (lm-eval's repeats), from 0


def _split_name(path: Path, prefix: str) -> tuple[str, str]:
    """(task or "", timestamp) from ``samples_<task>_<time>.jsonl`` / ``results_<time>.json``.

    lm-eval's timestamps (``datetime.isoformat()`` with ``:`` as ``-``) hold no underscore, so the
    last underscore splits the name; task names may hold underscores.
    """
    stem = path.name.removeprefix(prefix).rsplit(".", 1)[0]
    head, _, stamp = stem.rpartition("_")
    return head, stamp


def _finished(root: Path, pattern: str) -> list[Path]:
    """Files matching ``pattern`` under ``root``, outside hidden folders (the runner's ``.suite.partial``
    staging folders hold unfinished runs)."""
    return [
        p for p in root.rglob(pattern) if not any(part.startswith(".") for part in p.relative_to(root).parts)
    ]


def samples_files(root: Path) -> dict[str, Path]:
    """The latest samples file of every task under ``root`` (searched recursively), by task name."""
    latest: dict[str, tuple[str, Path]] = {}
    for path in _finished(root, "samples_*.jsonl"):
        task, stamp = _split_name(path, "samples_")
        if task and (task not in latest or stamp > latest[task][0]):
            latest[task] = (stamp, path)
    return {task: path for task, (_, path) in sorted(latest.items())}


def results_files(root: Path) -> list[Path]:
    """Every ``results_*.json`` under ``root``, oldest first (by lm-eval's timestamp)."""
    return sorted(_finished(root, "results_*.json"), key=lambda p: _split_name(p, "results_")[1])


def read_samples(path: Path, task: str) -> Iterator[Sample]:
    """One sample per ``doc_id`` and response (the first line of each document: later lines repeat it
    for other filters)."""
    seen: set[int] = set()
    for number, line in text_lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            doc_id = int(record["doc_id"])
            doc = record["doc"]
            responses = record["resps"][0]
        except (ValueError, KeyError, IndexError, TypeError) as error:
            raise ConfigError(f"{path}: line {number} is not an lm-eval sample ({error!r})") from None
        if not isinstance(doc, dict) or not isinstance(responses, list) or not responses:
            raise ConfigError(f"{path}: line {number}: 'resps[0]' holds no generated text")
        if doc_id in seen:
            continue
        seen.add(doc_id)
        for index, response in enumerate(responses):
            if not isinstance(response, str):
                raise ConfigError(f"{path}: line {number}: 'resps[0][{index}]' is not a generated text")
            yield Sample(task=task, doc_id=doc_id, doc=doc, response=response, path=path, sample=index)


def iter_samples(root: Path) -> Iterator[Sample]:
    """Every task's samples under ``root``, task by task, each task's in ``doc_id`` order."""
    if not root.is_dir():
        raise ConfigError(f"{root}: no such directory")
    for task, path in samples_files(root).items():
        yield from sorted(read_samples(path, task), key=lambda sample: (sample.doc_id, sample.sample))
