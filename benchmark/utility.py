"""Utility scores: lm-eval's own metrics for the non-safety tasks, as rows of ``scores/lm_eval.json``.

Nothing is recomputed: each row is a metric lm-eval reported in a suite's ``results_*.json``, with an
interval of ±1.96 standard errors where lm-eval gives one (``k`` is null, the store's rule for rows
that are not counts).
"""

from __future__ import annotations

import math
from typing import Any

from resta_bench.benchmark.lm_eval_output import results_files
from resta_bench.benchmark.provenance import utc_now
from resta_bench.benchmark.stats import Z_95
from resta_bench.benchmark.store import ResultsStore, read_json_object
from resta_bench.storage.schema import ALL, UTILITY_SCORES, JudgeBlock, ScoreRow, ScoresFile, write_record
from resta_bench.tasks.catalogue import is_judged_task

# Numbers lm-eval files beside the metrics that measure nothing about the model.
NOT_METRICS = frozenset({"sample_len", "sample_count"})


def _latest_results(store: ResultsStore, system_id: str, suite: str) -> dict[str, Any]:
    """The suite's results file (a suite folder holds one run: the runner stages each attempt afresh)."""
    files = results_files(store.suite_dir(system_id, suite))
    return read_json_object(files[-1]) if files else {}


def _finite(value: Any) -> bool:
    # bool is an int in Python; lm-eval writes "N/A" for a missing stderr and may write NaN for one
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def utility_rows(results: dict[str, Any]) -> list[ScoreRow]:
    """One row per (task or group, metric) lm-eval reported, leaving out the tasks the benchmark catalogue
    says are judged (their rates come from the judgments, ``scores/<judge_id>.json``)."""
    rows = []
    sample_counts = results.get("n-samples", {})
    for task, metrics in sorted(results.get("results", {}).items()):
        if is_judged_task(task):
            continue
        n = sample_counts.get(task, {}).get("effective")
        for key, value in sorted(metrics.items()):
            metric, _, filter_name = key.partition(",")
            if metric.endswith("_stderr") or metric in NOT_METRICS or not _finite(value):
                continue
            stderr = metrics.get(f"{metric}_stderr,{filter_name}")
            has_interval = _finite(stderr)
            rows.append(
                ScoreRow(
                    benchmark=task,
                    language=ALL,
                    category=ALL,
                    subcategory=ALL,
                    metric=metric if filter_name in ("", "none") else f"{metric}/{filter_name}",
                    value=float(value),
                    ci_low=value - Z_95 * stderr if has_interval else None,
                    ci_high=value + Z_95 * stderr if has_interval else None,
                    n=n,
                    k=None,
                    invalid=0,
                )
            )
    return rows


def write_utility_scores(store: ResultsStore, system_id: str, suites: list[str]) -> int:
    """Write ``scores/lm_eval.json`` from the suites' results; return the number of rows."""
    rows = [row for suite in suites for row in utility_rows(_latest_results(store, system_id, suite))]
    scores = ScoresFile(
        judge=JudgeBlock(id=UTILITY_SCORES), system_id=system_id, created=utc_now(), suites=suites, rows=rows
    )
    write_record(store.scores_path(system_id, UTILITY_SCORES), scores)
    return len(rows)
