"""The judges panel: who judged, for which languages it is valid (measured against people where a
validation record exists, else as declared), how often it gave no verdict, and how often two judges
agree on the same responses.

Nothing is estimated here. Verdict counts are the judgments files' lines (every benchmark, invalid ones
included); judge-vs-judge agreement (raw, Cohen's κ, Gwet's AC1 with their n) is what ``resta`` stored
in ``<store>/_agreement.json`` when it scored the systems (``benchmark/agreement.py``), and agreement
with people is the validation records' (:mod:`leaderboards.validations`). The stored counts say what
each counts, so that the panel's numbers agree (issue 16, item 12): for each judge of a pair, responses
both judged plus those only it judged are its verdicts on the systems both judged.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field
from resta_bench.leaderboards.store import UTILITY_SCORES, System
from resta_bench.leaderboards.validations import Measurement, Validation, deciding, measurements
from resta_bench.storage.schema import ALL, Block, Record, read_record

if TYPE_CHECKING:  # benchmark writes the agreement through this module's model: no pandas for it
    import pandas as pd

log = logging.getLogger(__name__)

STORE_AGREEMENT = "_agreement.json"  # in the store (benchmark/agreement.py writes both); never a system id
SYSTEM_AGREEMENT = "agreement.json"  # in each system's folder judged by two judges or more
Count = Annotated[int, Field(ge=0)]
Share = Annotated[float, Field(ge=-1, le=1)]  # raw agreement in 0-1; κ and AC1 may be below 0


class AgreementRow(Block):
    """One table of two judges' verdicts (``judges.agreement.Agreement.as_record``)."""

    n: Count  # responses both judges gave harmful or safe
    excluded_invalid: Count  # responses both judged where either said invalid
    confusion: dict[str, Count]  # "A verdict|B verdict" -> count
    raw_agreement: Share | None
    cohen_kappa: Share | None
    gwet_ac1: Share | None


class AgreementCounts(Block):
    both_judged: Count
    only_a: Count
    only_b: Count


class JudgePair(Block):
    judges: Annotated[list[str], Field(min_length=2, max_length=2)]
    systems: list[str]
    only_one_judge: Count
    counts: AgreementCounts
    by_language: dict[str, AgreementRow]  # harmful-question sets pooled, "all" first
    by_benchmark: dict[str, AgreementRow]


class StoreAgreement(Record):
    """``<store>/_agreement.json``, written by ``benchmark/agreement.py`` through this model (until the
    store's schema has it)."""

    schema_: Literal["resta-bench/judge-agreement/1"] = Field(alias="schema")
    n_counts: str
    created: str
    system_files: dict[str, str]  # system id -> SHA-256 of the agreement.json it was summed from
    pairs: list[JudgePair]


@dataclass
class Agreement:
    """The stored judge-vs-judge agreement and whether the systems' files still match it."""

    pairs: list[JudgePair]
    n_counts: str
    created: str
    stale: list[str]  # systems whose agreement.json differs from, or is missing in, the stored sum


def read_agreement(results_dir: Path, systems: list[System]) -> Agreement | None:
    """The store's stored agreement (None where no system was judged by two judges). A malformed file is
    one ``StorageError`` line naming it and the field."""
    path = Path(results_dir) / STORE_AGREEMENT
    if not path.is_file():
        return None
    record = read_record(StoreAgreement, path)
    current = {}
    for system in systems:
        file = Path(results_dir) / system.id / SYSTEM_AGREEMENT
        if file.is_file():
            current[system.id] = hashlib.sha256(file.read_bytes()).hexdigest()
    stale = sorted(
        system
        for system in current.keys() | record.system_files.keys()
        if current.get(system) != record.system_files.get(system)
    )
    if stale:
        log.warning(
            "%s: summed before %d systems' agreement changed (%s...); `resta judge-agreement %s --judges "
            "A,B --write` stores it again",
            path,
            len(stale),
            stale[0],
            results_dir,
        )
    return Agreement(record.pairs, record.n_counts, record.created, stale)


@dataclass(frozen=True)
class LanguageValidity:
    """A judge's validity for one language: measured (the deciding measurement), else declared."""

    language: str
    valid: bool
    measured: Measurement | None  # None: as declared
    sets: list[Measurement]  # every measurement there, on every set

    @property
    def source(self) -> str:
        return "declared" if self.measured is None else "measured"


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
    validity: list[LanguageValidity] = field(default_factory=list)

    @property
    def invalid_rate(self) -> float | None:
        return self.invalid / self.judged if self.judged else None


def _validity(declared: list[str] | None, found: list[Measurement]) -> list[LanguageValidity]:
    chosen = deciding(found)
    languages = sorted(set(declared or ()) | {m.language for m in found})
    return [
        LanguageValidity(
            language=language,
            valid=bool(chosen[language].valid) if language in chosen else language in (declared or ()),
            measured=chosen.get(language),
            sets=[m for m in found if m.language == language],
        )
        for language in languages
    ]


def judge_summaries(
    systems: list[System], frame: pd.DataFrame, verdicts: VerdictCounter, validations: list[Validation]
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
                validity=_validity(block.get("languages"), measurements(validations, judge_id)),
            )
        )
    return summaries


@dataclass
class VerdictCounter:
    """Per judge, its verdicts and invalid ones. Fed one system's response items at a time (in a worker
    process), then merged."""

    lines: Counter[str] = field(default_factory=Counter)
    invalid: Counter[str] = field(default_factory=Counter)

    def add(self, items: list[dict[str, Any]]) -> None:
        # A column of verdicts per judge, counted by list.count: far cheaper than an update per question.
        for judge in set().union(*(item["verdicts"] for item in items)):
            column = [item["verdicts"].get(judge) for item in items]
            self.lines[judge] += len(column) - column.count(None)
            self.invalid[judge] += column.count("invalid")

    def merge(self, other: VerdictCounter) -> None:
        self.lines.update(other.lines)
        self.invalid.update(other.invalid)
