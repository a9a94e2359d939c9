"""``system.json``, ``lm_eval/<suite>/suite.json`` and the lines of ``judgments/<judge_id>.jsonl``.

Field names are the files' own (docs/results-store.md), so a store written before this module reads.
Required are the fields every writer has always written; later additions have defaults.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, Protocol

from pydantic import AfterValidator, Field
from resta_bench.storage.names import is_safe_name
from resta_bench.storage.schema.files import Block, Record

ROLES = ("aligned", "unaligned", "sft", "realigned")
VERDICTS = ("harmful", "safe", "invalid")
Role = Literal["aligned", "unaligned", "sft", "realigned"]
Verdict = Literal["harmful", "safe", "invalid"]
AGAINST = ("sft", "aligned")  # whom a system is compared with: system.json's sft_system, aligned_system


def _safe(value: str) -> str:
    if not is_safe_name(value):
        raise ValueError(
            "not a plain id (letters, digits and . _ + = -, starting with a letter or digit, no '..')"
        )
    return value


# A system id (or any name that becomes a path component or a URL part of the leaderboard).
SafeId = Annotated[str, AfterValidator(_safe)]
Json = dict[str, Any]  # another tool's data, kept verbatim


class ModelFiles(Block):
    """Where a system's weights are and their files' hashes (hub models: a revision instead)."""

    path: str
    sha256: dict[str, str] | None = None
    revision: str | None = None


class Provenance(Block):
    """Versions, commit, machine, times. Also ``ray_jobs`` (where each job of a Ray run ran)."""

    resta_bench: str | None = None
    git_commit: str | None = None
    lm_eval: str | None = None
    machine: Json | None = None  # platform facts; their set varies by machine
    started: str | None = None
    finished: str | None = None
    ray_jobs: dict[str, Json] | None = None


class ScoresRun(Block):
    """``runs.scores.<key>``: which suites a scores file was computed from, and its verdicts' counts."""

    suites: list[str]
    finished: str | None = None
    judge_id: str | None = None
    verdicts: dict[str, int] | None = None
    invalid_languages: list[str] | None = None


class Runs(Block):
    scores: dict[str, ScoresRun] = Field(default_factory=dict)


class SuiteRecord(Record):
    """``lm_eval/<suite>/suite.json``: how a suite was generated; ``settings`` is what a re-run must match."""

    settings: Json  # the experiment's suite settings as recorded (compared whole on a re-run)
    tasks: list[str]
    task_hashes: dict[str, str] = Field(default_factory=dict)
    sample_hashes: dict[str, str] = Field(default_factory=dict)
    chat_template_sha256: str | None = None
    system_prompt_sha256: str | None = None
    lm_eval: str | None = None
    model_args: Json = Field(default_factory=dict)  # lm-eval's --model_args
    backend: str | None = None
    protocol: str | None = None
    gen_kwargs: Json = Field(default_factory=dict)  # lm-eval's generation arguments
    samples: int | None = None
    seeds: dict[str, int | None] | None = None
    started: str | None = None
    finished: str | None = None
    machine: Json | None = None


class SystemRecord(Record):
    """``system.json``: what a system is, how its results were made (docs/results-store.md)."""

    system_id: SafeId
    name: str | None = None  # the experiment file's name for it
    label: str
    base_model: str
    role: Role
    finetune_task: str | None = None
    regime: str | None = None
    method: str | None = None
    # The method's display name and its parameters' symbols, from realign's registry, so the leaderboard
    # can label charts without importing realign; absent in stores written before (labels fall back).
    method_title: str | None = None
    param_labels: dict[str, str] = Field(default_factory=dict)
    params: Json = Field(default_factory=dict)
    sft_system: SafeId | None = None
    aligned_system: SafeId | None = None
    inputs: dict[str, SafeId | list[SafeId]] = Field(default_factory=dict)  # models: task arithmetic's list
    model: ModelFiles | None = None
    recipe: Json | None = None  # realign's recipe.json / finetune.json, verbatim
    generation: dict[str, SuiteRecord] = Field(default_factory=dict)  # each suite's suite.json record
    runs: Runs = Field(default_factory=Runs)
    provenance: Provenance = Field(default_factory=Provenance)


class JudgmentLike(Protocol):
    """What :meth:`JudgedResponse.of` reads from a judge's verdict (``judges.Judgment``)."""

    verdict: str
    raw: str
    judge_id: str
    model: str | None
    prompt_hash: str
    meta: dict[str, Any]


class JudgedResponse(Block):
    """The judge's part of a judgment line; alone, the record the lm-eval judge filter logs per doc."""

    verdict: Verdict
    refusal: bool | None = None  # the keyword matcher's call, whatever the judge said
    raw: str | None = None
    judge_id: str | None = None
    model: str | None = None
    prompt_hash: str | None = None
    language_valid: bool | None = None  # whether the judge declares itself valid for the language
    meta: Json | None = None  # the judge's own: attempts, no_verdict, error, cached

    @classmethod
    def of(cls, judgment: JudgmentLike, *, refusal: bool, language_valid: bool) -> JudgedResponse:
        """The one builder of a verdict record, for the judge filter and for judgments files alike."""
        # A judge's meta may hold values JSON has no type for: they are kept as text.
        meta = json.loads(json.dumps(judgment.meta, default=str)) if judgment.meta else None
        return cls(
            verdict=judgment.verdict,  # type: ignore[arg-type]  # a judge returns only VERDICTS
            refusal=refusal,
            raw=judgment.raw,
            judge_id=judgment.judge_id,
            model=judgment.model,
            prompt_hash=judgment.prompt_hash,
            language_valid=language_valid,
            meta=meta,
        )


class JudgmentLine(JudgedResponse, Record):
    """One line of ``judgments/<judge_id>.jsonl``: one response to one question and its verdict."""

    task: str
    doc_id: int
    sample: int = 0  # the response's index among its question's samples (lines before samples: 0)
    benchmark: str
    language: str
    category: str = ""  # "" where the benchmark has none
    subcategory: str = ""
    row: int | None = None
    question: str
    response: str
    label: str | None = None  # over-refusal prompts: safe | unsafe

    @property
    def key(self) -> tuple[str, int, int]:
        return self.task, self.doc_id, self.sample
