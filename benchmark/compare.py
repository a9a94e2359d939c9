"""Paired comparison of two systems judged on the same prompts (e.g. SFT vs SFT + RESTA).

Items are paired by (task, doc_id); a pair counts only when both verdicts are harmful or safe
(invalid verdicts are reported, never folded in). For each group (overall, per language, per
benchmark × language) it gives both harmful rates, their difference B − A with a paired bootstrap
95% interval, and the exact McNemar p-value of the discordant pairs. A group with no valid pair has
no rates, difference or p-value (None), rather than zeros that would read as measurements.
"""

from __future__ import annotations

from dataclasses import dataclass

from resta_bench.benchmark.errors import ConfigError
from resta_bench.benchmark.stats import mcnemar_exact, paired_bootstrap_difference
from resta_bench.benchmark.store import ResultsStore
from resta_bench.storage.names import check_name

ALL = "all"


@dataclass(frozen=True)
class PairedRow:
    benchmark: str
    language: str
    n: int  # pairs with a valid verdict on both sides
    invalid: int  # pairs left out because either verdict is invalid
    rate_a: float | None  # None (here and below) when n is 0
    rate_b: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    only_a: int  # harmful under A only
    only_b: int  # harmful under B only
    p_value: float | None


def common_judge(store: ResultsStore, system_a: str, system_b: str, judge_id: str | None) -> str:
    """The judge whose verdicts to compare: the one asked for, or the only one both systems have."""
    judged = [
        {path.stem for path in (store.system_dir(s) / "judgments").glob("*.jsonl")}
        for s in (system_a, system_b)
    ]
    shared = judged[0] & judged[1]
    if judge_id is not None:
        if judge_id not in shared:
            raise ConfigError(
                f"--judge: {judge_id!r} has not judged both systems (both have: {sorted(shared)})"
            )
        return judge_id
    if len(shared) != 1:
        raise ConfigError(f"--judge: choose one of the judges both systems have: {sorted(shared) or 'none'}")
    return shared.pop()


def compare_systems(
    store: ResultsStore,
    system_a: str,
    system_b: str,
    *,
    judge_id: str | None = None,
    iterations: int = 10_000,
    seed: int = 0,
) -> tuple[str, list[PairedRow]]:
    """The judge used and one row per group, overall first."""
    if iterations < 1:
        raise ConfigError(f"--iterations {iterations}: must be at least 1")
    check_name(system_a, "--a")
    check_name(system_b, "--b")
    if judge_id is not None:
        check_name(judge_id, "--judge")
    for system_id in (system_a, system_b):
        store.require_system(system_id)
    judge_id = common_judge(store, system_a, system_b, judge_id)
    judged_a = store.read_judgments(system_a, judge_id)
    judged_b = store.read_judgments(system_b, judge_id)
    keys = sorted(judged_a.keys() & judged_b.keys())
    if not keys:
        raise ConfigError(f"{store.root}: {system_a} and {system_b} share no judged prompts")

    groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for key in keys:
        line = judged_a[key]
        benchmark, language = line.get("benchmark", key[0]), line.get("language", ALL)
        pair = (judged_a[key]["verdict"], judged_b[key]["verdict"])
        for group in ((ALL, ALL), (ALL, language), (benchmark, language)):
            groups.setdefault(group, []).append(pair)
    rows = [_paired_row(group, pairs, iterations, seed) for group, pairs in groups.items()]
    rows.sort(key=lambda row: (row.benchmark != ALL, row.benchmark, row.language != ALL, row.language))
    return judge_id, rows


def _paired_row(
    group: tuple[str, str], pairs: list[tuple[str, str]], iterations: int, seed: int
) -> PairedRow:
    valid = [(a == "harmful", b == "harmful") for a, b in pairs if "invalid" not in (a, b)]
    a = [float(x) for x, _ in valid]
    b = [float(y) for _, y in valid]
    difference, low, high = paired_bootstrap_difference(a, b, iterations=iterations, seed=seed) or (None,) * 3
    only_a = sum(1 for x, y in valid if x and not y)
    only_b = sum(1 for x, y in valid if y and not x)
    n = len(valid)
    return PairedRow(
        benchmark=group[0],
        language=group[1],
        n=n,
        invalid=len(pairs) - n,
        rate_a=sum(a) / n if n else None,
        rate_b=sum(b) / n if n else None,
        difference=difference,
        ci_low=low,
        ci_high=high,
        only_a=only_a,
        only_b=only_b,
        p_value=mcnemar_exact(only_a, only_b) if n else None,
    )
