"""Judge validation: how often a judge agrees with people on responses they labelled.

    from resta_bench.judges import get_judge
    from resta_bench.judges.validation import validate, write_record
    from resta_bench.judges.validation_sets import load_set

    record = validate(get_judge("offline"), load_set("gptfuzz:evaluate"), cache=None)
    write_record("results", record)   # -> results/_judges/offline/gptfuzz-evaluate.json

``harmful`` is the positive class. Each metric (accuracy, precision, recall, F1, Cohen's κ and Gwet's AC1
between the judge and the human labels) has a 95 % percentile bootstrap interval over items; the same
figures are given per language, per source set, per responding model, per category and per annotator
agreement where the set says. Items the judge called ``invalid`` are counted and left out of the
metrics. Verdicts go through :func:`judges.run.judge_items`, so the judge cache and batching apply and
re-validating a judge asks it nothing twice.
"""

from __future__ import annotations

import importlib.metadata
import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from resta_bench.judges.agreement import agreement
from resta_bench.judges.base import Judge
from resta_bench.judges.cache import JudgmentCache
from resta_bench.judges.run import judge_items
from resta_bench.judges.validation_sets import LABELS, LabelledItem, LabelledSet
from resta_bench.storage import schema
from resta_bench.storage.names import check_name
from resta_bench.storage.schema import Estimate, Measured, ValidationRecord

JUDGES_FOLDER = "_judges"  # in the results store; a leading underscore can never be a system id
METRICS = ("accuracy", "precision", "recall", "f1", "cohen_kappa", "gwet_ac1")
CELLS = tuple(itertools.product(LABELS, LABELS))  # (human label, judge verdict)


def _rates(counts: Mapping[tuple[str, str], int]) -> dict[str, float | None]:
    """Every metric of one (label, verdict) table; κ and AC1 are :func:`judges.agreement.agreement`'s."""
    pairs = itertools.chain.from_iterable(itertools.repeat(cell, counts[cell]) for cell in CELLS)
    agreed = agreement(pairs)
    tp, fn, fp = counts[("harmful", "harmful")], counts[("harmful", "safe")], counts[("safe", "harmful")]
    return {
        "accuracy": agreed.raw,
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None,
        "cohen_kappa": agreed.cohen_kappa,
        "gwet_ac1": agreed.gwet_ac1,
    }


def measure(
    pairs: Sequence[tuple[str, str]], *, iterations: int = 1000, seed: int = 0, confidence: float = 0.95
) -> dict[str, Any]:
    """n, invalid count, confusion matrix and every metric with its bootstrap interval.

    Resampling n items with replacement changes a 2x2 table's cells as a multinomial draw with the
    observed cell shares, so the bootstrap draws tables, not items: the same distribution, far cheaper.
    A metric undefined in some resampled tables (precision with no harmful verdict) takes its interval
    from the tables where it is defined.
    """
    counts = {cell: 0 for cell in CELLS}
    invalid = 0
    for cell in pairs:
        if cell in counts:
            counts[cell] += 1
        else:
            invalid += 1
    n = sum(counts.values())
    point = _rates(counts)
    intervals: dict[str, list[float]] = {metric: [] for metric in METRICS}
    if n:
        rng = np.random.default_rng(seed)
        shares = np.array([counts[cell] for cell in CELLS], dtype=float) / n
        for table in rng.multinomial(n, shares, size=iterations):
            for metric, value in _rates(dict(zip(CELLS, table.tolist(), strict=True))).items():
                if value is not None:
                    intervals[metric].append(value)
    tail = (1 - confidence) / 2
    metrics = {}
    for metric in METRICS:
        low, high = np.quantile(intervals[metric], [tail, 1 - tail]) if intervals[metric] else (None, None)
        metrics[metric] = {"value": point[metric], "low": _float(low), "high": _float(high)}
    return {
        "n": n,
        "invalid": invalid,
        "confusion": {f"{label}|{verdict}": count for (label, verdict), count in counts.items()},
        "metrics": metrics,
    }


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _agreement_level(item: LabelledItem) -> str | None:
    if item.votes is None:
        return None
    return "unanimous" if 0 in item.votes else "split"


# Breakdowns: record key -> what each item is grouped by (None: the set does not say).
BREAKDOWNS: dict[str, Callable[[LabelledItem], str | None]] = {
    "by_language": lambda item: item.item.language,
    "by_source": lambda item: item.source,
    "by_model": lambda item: item.model,
    "by_category": lambda item: item.item.category,
    "by_annotator_agreement": _agreement_level,
}


def validate(
    judge: Judge,
    labelled: LabelledSet,
    *,
    cache: JudgmentCache | None = None,
    progress: bool = True,
    iterations: int = 1000,
    seed: int = 0,
) -> ValidationRecord:
    """The validation record of ``judge`` on ``labelled`` (see :func:`write_record` for where it goes)."""
    started = time.monotonic()
    items = [entry.item for entry in labelled.items]
    judgments = judge_items(
        judge, items, cache=cache, progress=progress, description=f"{judge.id} on {labelled.name}"
    )
    pairs = [(entry.label, j.verdict) for entry, j in zip(labelled.items, judgments, strict=True)]
    options = {"iterations": iterations, "seed": seed}
    record: dict[str, Any] = {
        "judge": {
            "id": judge.id,
            "model": judge.model,
            "prompt_hash": judge.prompt_hash,
            "languages": sorted(judge.languages),
        },
        "set": {"name": labelled.name, "split": labelled.split, "source": labelled.source},
        **measure(pairs, **options),
    }
    for key, group_of in BREAKDOWNS.items():
        groups: dict[str, list[tuple[str, str]]] = {}
        for entry, pair in zip(labelled.items, pairs, strict=True):
            group = group_of(entry)
            if group is not None:
                groups.setdefault(group, []).append(pair)
        if len(groups) == 1 and len(next(iter(groups.values()))) == len(pairs):
            (only,) = groups  # one group holding every item: its figures are the whole set's
            record[key] = {only: {k: record[k] for k in ("n", "invalid", "confusion", "metrics")}}
        elif groups:
            record[key] = {group: measure(groups[group], **options) for group in sorted(groups)}
    for language, row in record["by_language"].items():
        row["judge_valid_for_language"] = judge.is_valid_for(language)
    record["bootstrap"] = {**options, "confidence": 0.95, "resampled": "items"}
    record["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    record["duration_s"] = round(time.monotonic() - started, 3)
    record["resta_bench_version"] = importlib.metadata.version("resta-bench")
    return ValidationRecord.model_validate(record)  # the store's schema (storage/schema) checks it whole


def record_path(store: str | Path, judge_id: str, set_name: str) -> Path:
    return (
        Path(store) / JUDGES_FOLDER / check_name(judge_id, "judge id") / f"{check_name(set_name, 'set')}.json"
    )


def write_record(store: str | Path, record: ValidationRecord) -> Path:
    """Write ``record`` to ``<store>/_judges/<judge id>/<set>.json`` atomically; return the path."""
    path = record_path(store, record.judge.id, record.labelled_set.name)
    schema.write_record(path, record)
    return path


def _cell(estimate: Estimate, *, interval: bool) -> str:
    if estimate.value is None:
        return "n/a"
    text = f"{estimate.value:.3f}"
    if interval and estimate.low is not None and estimate.high is not None:
        text += f" [{estimate.low:.3f}, {estimate.high:.3f}]"
    return text


def format_table(record: ValidationRecord) -> str:
    """A readable table of one record: every row's n, invalid count and metrics (intervals for the
    chance-corrected ones and accuracy; the record holds them all)."""
    judge, labelled = record.judge, record.labelled_set
    lines = [
        f"judge {judge.id} (model {judge.model}, prompt hash {judge.prompt_hash}) "
        f"on {labelled.name}: n {record.n}, invalid {record.invalid}",
        f"{'':<28}{'n':>6}{'inv':>5}  {'accuracy':<22}{'prec':>6}{'rec':>7}{'F1':>7}  "
        f"{'kappa':<22}{'AC1':<22}",
    ]
    rows: list[tuple[str, ValidationRecord | Measured]] = [("all", record)]
    rows += [
        (f"{key.removeprefix('by_')}={group}", row)
        for key in BREAKDOWNS
        for group, row in (getattr(record, key) or {}).items()
    ]
    for name, row in rows:
        m = row.metrics
        lines.append(
            f"{name[:27]:<28}{row.n:>6}{row.invalid:>5}  {_cell(m['accuracy'], interval=True):<22}"
            + "".join(f"{_cell(m[k], interval=False):>7}" for k in ("precision", "recall", "f1"))
            + f"  {_cell(m['cohen_kappa'], interval=True):<22}{_cell(m['gwet_ac1'], interval=True):<22}"
        )
    return "\n".join(line.rstrip() for line in lines)
