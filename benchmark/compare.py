"""Paired comparison of two systems judged on the same prompts (e.g. SFT vs SFT + RESTA): what
``resta compare`` prints, and the ``deltas`` a scores file stores against the system's SFT and aligned
models (:func:`paired_deltas`).

Questions are paired by (task, doc_id). For each group it gives both rates, their difference B − A with
a paired bootstrap 95% interval, and the exact McNemar p-value of the discordant pairs. What is grouped
and pooled is the benchmark catalogue's (``tasks/catalogue.py``): the harmful rate overall and per
language pools the harmful-question sets only, and each benchmark has its own rows in its own metrics
(``harmful`` for a harmful-question set; ``refusal_safe`` and ``refusal_unsafe`` for XSTest).

A pair counts only when both sides have a valid value (a harmful or safe verdict; invalid verdicts are
reported, never folded in). Where a suite drew several samples per question, a side's value is the
question's rate over its samples, and there is no McNemar p (it needs one yes/no per side). A group with
no valid pair has no rates, difference or p-value (None), rather than zeros that would read as
measurements.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from resta_bench.benchmark.errors import ConfigError
from resta_bench.benchmark.scoring import COUNTERS
from resta_bench.benchmark.stats import mcnemar_exact, paired_bootstrap_difference
from resta_bench.benchmark.store import ResultsStore
from resta_bench.storage.names import check_name
from resta_bench.storage.schema import AGAINST, Delta
from resta_bench.tasks import catalogue

ALL = "all"

Record = dict[str, Any]
Judged = Mapping[tuple, Record]  # a judgments file as the store reads it
Group = tuple[str, str, str]  # (benchmark, language, metric)
# Which groups a question of (benchmark, language) belongs to.
GroupsOf = Callable[[str, str], Iterable[Group]]


@dataclass(frozen=True)
class PairedRow:
    benchmark: str
    language: str
    metric: str
    n: int  # questions with a valid value on both sides
    invalid: int  # questions left out because either side has no valid value
    rate_a: float | None  # None (here and below) when n is 0
    rate_b: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    only_a: int  # questions where A's rate is the higher (harmful under A only, with one sample each)
    only_b: int
    p_value: float | None  # None also where a question has several samples


def record_benchmark(line: Record) -> str:
    """A judgment line's benchmark: its own field, else the catalogue's for its task, else the task."""
    found = catalogue.benchmarks_of_task(line["task"])
    return line.get("benchmark") or (found[0].name if found else line["task"])


def headline_metrics(benchmark: str) -> tuple[str, ...]:
    """The metrics a benchmark is compared on; a set the catalogue lacks, on its harmful rate."""
    entry = catalogue.benchmark(benchmark)
    return tuple(m.name for m in entry.headline_metrics) if entry else (catalogue.HARMFUL,)


def compare_groups(benchmark: str, language: str) -> Iterator[Group]:
    """``resta compare``'s rows: each pooled rate overall and per language; each benchmark per language."""
    for metric in headline_metrics(benchmark):
        if catalogue.pools_into(metric, benchmark):
            yield ALL, ALL, metric
            yield ALL, language, metric
        yield benchmark, language, metric


def _questions(judged: Judged) -> dict[tuple[str, int], list[Record]]:
    """Judgment lines by question (a question sampled several times has a line per sample)."""
    questions: dict[tuple[str, int], list[Record]] = {}
    for line in judged.values():
        questions.setdefault((line["task"], line["doc_id"]), []).append(line)
    return questions


def paired_rows(
    judged_a: Judged, judged_b: Judged, groups_of: GroupsOf, *, iterations: int, seed: int
) -> list[PairedRow]:
    """One row per group of the questions both sides answered, pairs in (task, doc_id) order; overall
    first, then the catalogue's benchmark, language and metric order."""
    a, b = _questions(judged_a), _questions(judged_b)
    grouped: dict[Group, list[tuple[list[Record], list[Record]]]] = {}
    for question in sorted(a.keys() & b.keys()):
        first = a[question][0]
        for group in groups_of(record_benchmark(first), first.get("language", ALL)):
            grouped.setdefault(group, []).append((a[question], b[question]))
    rows = [_paired_row(group, pairs, iterations, seed) for group, pairs in grouped.items()]
    return sorted((row for row in rows if row is not None), key=_row_order)


def _row_order(row: PairedRow) -> tuple:
    return (
        row.benchmark != ALL,
        catalogue.order(row.benchmark),
        row.benchmark,
        row.language != ALL,
        catalogue.language_order(row.language),
        row.language,
        row.metric != catalogue.HARMFUL,
        row.metric,
    )


def _paired_row(
    group: Group, pairs: Sequence[tuple[list[Record], list[Record]]], iterations: int, seed: int
) -> PairedRow | None:
    """The row of one group, or None where its metric applies to none of its questions."""
    count = COUNTERS[group[2]]
    a: list[float] = []
    b: list[float] = []
    applicable = 0
    one_sample = True  # McNemar's test needs one yes/no per side and question
    for lines_a, lines_b in pairs:
        (n_a, k_a, invalid_a), (n_b, k_b, _) = count(lines_a), count(lines_b)
        if n_a == invalid_a == 0:
            continue  # e.g. refusal_safe on an unsafe-labelled prompt
        applicable += 1
        if n_a and n_b:
            a.append(k_a / n_a)
            b.append(k_b / n_b)
            one_sample = one_sample and n_a == n_b == 1
    if not applicable:
        return None
    difference, low, high = paired_bootstrap_difference(a, b, iterations=iterations, seed=seed) or (None,) * 3
    only_a = sum(1 for x, y in zip(a, b, strict=True) if x > y)
    only_b = sum(1 for x, y in zip(a, b, strict=True) if y > x)
    n = len(a)
    return PairedRow(
        benchmark=group[0],
        language=group[1],
        metric=group[2],
        n=n,
        invalid=applicable - n,
        rate_a=sum(a) / n if n else None,
        rate_b=sum(b) / n if n else None,
        difference=difference,
        ci_low=low,
        ci_high=high,
        only_a=only_a,
        only_b=only_b,
        p_value=mcnemar_exact(only_a, only_b) if n and one_sample else None,
    )


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
    """The judge used and one row per group (:func:`compare_groups`), overall first."""
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
    if not judged_a.keys() & judged_b.keys():
        raise ConfigError(f"{store.root}: {system_a} and {system_b} share no judged prompts")
    return judge_id, paired_rows(judged_a, judged_b, compare_groups, iterations=iterations, seed=seed)


# The deltas of a scores file: this system's harmful rate minus its SFT's and its aligned model's.
DELTA_ITERATIONS = 10_000
DELTA_INTERVAL = "paired bootstrap, 95%"
DELTA_SEED = 0


def delta_groups(benchmark: str, language: str) -> Iterator[Group]:
    """The harmful rate pooled over harmful-question sets and of each set, overall and per language."""
    if catalogue.pools_into(catalogue.HARMFUL, benchmark):
        for name in (ALL, benchmark):
            yield name, ALL, catalogue.HARMFUL
            yield name, language, catalogue.HARMFUL


def paired_deltas(store: ResultsStore, system_id: str, judge_id: str) -> list[Delta]:
    """The system against its SFT and aligned models, those of the two that have judgments by this
    judge: one record per :func:`delta_groups` group, less the language rows of a one-language group
    (they repeat its overall row)."""
    meta = store.read_system_record(system_id)
    mine = store.read_judgments(system_id, judge_id)
    deltas = []
    for against in AGAINST:
        other = getattr(meta, f"{against}_system", None)
        if not other or not store.judgments_path(other, judge_id).is_file():
            continue
        theirs = store.read_judgments(other, judge_id)
        rows = paired_rows(theirs, mine, delta_groups, iterations=DELTA_ITERATIONS, seed=DELTA_SEED)
        languages: dict[str, set[str]] = {}
        for row in rows:
            languages.setdefault(row.benchmark, set()).add(row.language)
        kept = [row for row in rows if row.language == ALL or len(languages[row.benchmark] - {ALL}) > 1]
        deltas += [_delta(row, against, other) for row in kept]
    return deltas


def _delta(row: PairedRow, against: str, other: str) -> Delta:
    """One stored delta (docs/schema.md): "this" is the scored system, B of the pair."""
    return Delta(
        against=against,  # type: ignore[arg-type]  # one of AGAINST
        against_system=other,
        benchmark=row.benchmark,
        language=row.language,
        metric=row.metric,
        n_pairs=row.n,
        invalid_pairs=row.invalid,
        rate=row.rate_b,
        against_rate=row.rate_a,
        difference=row.difference,
        low=row.ci_low,
        high=row.ci_high,
        only_this=row.only_b,
        only_against=row.only_a,
        p_mcnemar=row.p_value,
        interval=DELTA_INTERVAL,
        iterations=DELTA_ITERATIONS,
        seed=DELTA_SEED,
    )
