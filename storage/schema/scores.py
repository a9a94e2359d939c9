"""``scores/<judge_id>.json`` (rows and stored ``deltas``) and ``_judges/<judge_id>/<set>.json``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError
from resta_bench.storage.schema.files import Block, Record
from resta_bench.storage.schema.records import SafeId

UTILITY_SCORES = "lm_eval"  # scores/lm_eval.json: lm-eval's own metrics, not a judge's rates
ALL = "all"  # a row's language, category or subcategory when it aggregates over them

Count = Annotated[int, Field(ge=0)]
Rate = Annotated[float, Field(ge=0, le=1)]
Difference = Annotated[float, Field(ge=-1, le=1)]


def _null_when_empty(block: Block, empty: bool, why: str, names: tuple[str, ...]) -> None:
    """Nothing counted is no measurement: a 0.0 there would read as a rate of zero."""
    given = next((name for name in names if getattr(block, name) is not None), None)
    if empty and given is not None:
        raise PydanticCustomError(
            "nothing_counted",
            f"nothing was counted ({why}), so {', '.join(names[:-1])} and {names[-1]} must be null, "
            f"got {given} {getattr(block, given)!r}",
        )


class JudgeBlock(Block):
    """Which judge made a file's verdicts (``{"id": "lm_eval"}`` alone in the utility file)."""

    id: str
    model: str | None = None
    prompt_hash: str | None = None
    languages: list[str] | None = None


class ScoreRow(Block):
    """One measured figure. ``value`` and the interval are null where nothing was counted (n = 0):
    "no measurement" must never read as a rate of 0. ``k`` is null for lm-eval metrics (not counts)."""

    benchmark: str
    language: str
    category: str
    subcategory: str
    metric: str
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: Count | None = None
    k: Count | None = None
    invalid: Count | None = 0
    questions: Count | None = None  # questions behind n (several samples each: fewer than n)
    interval: str | None = None  # wilson | cluster-bootstrap
    language_valid: bool | None = None

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return self.benchmark, self.language, self.category, self.subcategory, self.metric

    @model_validator(mode="after")
    def _nothing_counted(self) -> ScoreRow:
        _null_when_empty(self, self.k is not None and self.n == 0, "n = 0", ("value", "ci_low", "ci_high"))
        return self


class Delta(Block):
    """A stored paired comparison: this system's rate minus its SFT's or aligned model's, on the
    questions both answered validly. Rates, difference, interval and p are null where n_pairs is 0."""

    against: Literal["sft", "aligned"]
    against_system: SafeId
    benchmark: str
    language: str
    metric: str
    n_pairs: Count
    invalid_pairs: Count | None = None
    rate: Rate | None = None
    against_rate: Rate | None = None
    difference: Difference | None
    low: Difference | None
    high: Difference | None
    only_this: Count | None = None
    only_against: Count | None = None
    p_mcnemar: Rate | None
    interval: str | None = None
    iterations: int | None = None
    seed: int | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Delta:
        if self.low is not None and self.high is not None and self.low > self.high:
            raise PydanticCustomError("interval", f"low ({self.low}) and high ({self.high}) are reversed")
        nothing = ("rate", "against_rate", "difference", "low", "high", "p_mcnemar")
        _null_when_empty(self, self.n_pairs == 0, "n_pairs = 0", nothing)
        return self


class ScoresFile(Record):
    """A whole scores file. A judge's rows are rates (0-1); lm-eval's metrics need not be."""

    judge: JudgeBlock
    system_id: str | None = None
    created: str | None = None
    suites: list[str] | None = None  # the utility file: the suites whose results it reads
    rows: list[ScoreRow]
    deltas: list[Delta] = Field(default_factory=list)

    @model_validator(mode="after")
    def _rates(self) -> ScoresFile:
        if self.judge.id == UTILITY_SCORES:
            return self
        for index, row in enumerate(self.rows):
            for name in ("value", "ci_low", "ci_high"):
                number = getattr(row, name)
                if number is not None and not 0 <= number <= 1:
                    raise PydanticCustomError(
                        "rate", f"rows[{index}].{name}: {number} is outside 0-1 where a rate is expected"
                    )
        return self


class Estimate(Block):
    value: float | None
    low: float | None
    high: float | None


class Measured(Block):
    """A judge against human labels on some items: counts, the (label|verdict) table and the metrics."""

    n: Count
    invalid: Count
    confusion: dict[str, Count]
    metrics: dict[str, Estimate]
    judge_valid_for_language: bool | None = None  # by_language rows only


class LabelledSetBlock(Block):
    name: SafeId
    split: str | None = None
    source: dict[str, Any]  # where the set came from: a GitHub repo and commit, or a local file; hashes


class ValidationRecord(Record):
    """``_judges/<judge_id>/<set>.json``, written by ``resta validate-judge`` (judges/validation.py).

    ``schema`` is the record's older self-description, kept so readers written for it still work."""

    schema_: Literal["resta-bench/judge-validation/1"] = Field(
        "resta-bench/judge-validation/1", alias="schema"
    )
    judge: JudgeBlock
    labelled_set: LabelledSetBlock = Field(alias="set")
    n: Count
    invalid: Count
    confusion: dict[str, Count]
    metrics: dict[str, Estimate]
    by_language: dict[str, Measured] = Field(default_factory=dict)
    by_source: dict[str, Measured] | None = None
    by_model: dict[str, Measured] | None = None
    by_category: dict[str, Measured] | None = None
    by_annotator_agreement: dict[str, Measured] | None = None
    bootstrap: dict[str, Any]  # iterations, seed, confidence, what was resampled
    created: str
    duration_s: float
    resta_bench_version: str
