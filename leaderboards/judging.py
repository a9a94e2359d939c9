"""The judges panel: who judged, for which languages it is valid, how often it gave no verdict, and
how often two judges gave the same verdict on the same question.

Every count comes from one place, the judgments files, so that they agree (issue 16, item 12): a
judge's verdicts are its lines there (every benchmark), invalid ones included; two judges' shared
questions are the (system, task, doc_id) both gave harmful or safe, so never more than either judge's
valid verdicts. No statistic is estimated here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import pandas as pd
from resta_bench.leaderboards.store import UTILITY_SCORES, System
from resta_bench.leaderboards.tables import ALL


@dataclass
class JudgeSummary:
    id: str
    model: str | None
    prompt_hash: str | None
    languages: list[str] | None  # as the judge declares them; None where the scores file does not say
    systems: int
    judged: int  # lines in its judgments files, invalid verdicts included
    invalid: int
    not_valid_for: list[str]  # languages whose stored rows say language_valid = false

    @property
    def invalid_rate(self) -> float | None:
        return self.invalid / self.judged if self.judged else None


def judge_summaries(
    systems: list[System], frame: pd.DataFrame, verdicts: VerdictCounter
) -> list[JudgeSummary]:
    declared: dict[str, dict[str, Any]] = {}
    counts: Counter[str] = Counter()
    for system in systems:
        for judge_id, block in system.judges.items():
            declared.setdefault(judge_id, block)
            counts[judge_id] += 1
    judged = frame[frame["judge"] != UTILITY_SCORES]
    invalid_languages = judged[(~judged["language_valid"]) & (judged["language"] != ALL)]
    not_valid = invalid_languages.groupby("judge")["language"].unique()
    summaries = []
    for judge_id in sorted(declared):
        block = declared[judge_id]
        summaries.append(
            JudgeSummary(
                id=judge_id,
                model=block.get("model"),
                prompt_hash=block.get("prompt_hash"),
                languages=block.get("languages"),
                systems=counts[judge_id],
                judged=verdicts.lines[judge_id],
                invalid=verdicts.invalid[judge_id],
                not_valid_for=sorted(not_valid.get(judge_id, [])),
            )
        )
    return summaries


@dataclass
class VerdictCounter:
    """Per judge, its verdicts and invalid ones; per judge pair, shared questions and equal verdicts.
    Fed one system's response items at a time (in a worker process), then merged."""

    lines: Counter[str] = field(default_factory=Counter)
    invalid: Counter[str] = field(default_factory=Counter)
    shared: Counter[tuple[str, str]] = field(default_factory=Counter)
    same: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, items: list[dict[str, Any]]) -> None:
        # A column of verdicts per judge, counted by list.count: far cheaper than an update per question.
        for judge in set().union(*(item["verdicts"] for item in items)):
            column = [item["verdicts"].get(judge) for item in items]
            self.lines[judge] += len(column) - column.count(None)
            self.invalid[judge] += column.count("invalid")
        for item in items:
            # Only questions both judges gave a verdict on; "invalid" is no verdict.
            verdicts = {judge: v for judge, v in item["verdicts"].items() if v != "invalid"}
            for pair in combinations(sorted(verdicts), 2):
                self.shared[pair] += 1
                self.same[pair] += verdicts[pair[0]] == verdicts[pair[1]]

    def merge(self, other: VerdictCounter) -> None:
        for mine, theirs in zip(
            (self.lines, self.invalid, self.shared, self.same),
            (other.lines, other.invalid, other.shared, other.same),
            strict=True,
        ):
            mine.update(theirs)

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "judges": list(pair),
                "shared": shared,
                "same": self.same[pair],
                "share": self.same[pair] / shared,
            }
            for pair, shared in sorted(self.shared.items())
        ]
