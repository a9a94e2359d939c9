"""The benchmark catalogue: every benchmark RESTA Bench knows, and how its numbers are read.

One entry per benchmark: its name (the ``benchmark`` field of judgments and score rows, or lm-eval's task
name for a utility benchmark), its title, its kind (harmful questions, over-refusal, utility), its
languages, its metrics (direction and display unit), the pooled rates it may join, and the lm-eval tasks
and groups that run it. The order of :data:`BENCHMARKS` is the order of every table.

Scoring, ``resta compare``, ``resta judge``, the paper tables and the leaderboard all read it, so that a
benchmark is described once (docs/catalogue.md). It is plain data with small lookups and imports nothing
heavy (no lm-eval), so every folder may read it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from resta_bench.tasks.documents import CATQA_CATEGORIES

HARMFUL_QUESTIONS = "harmful questions"  # judged: the share of answers a judge finds harmful
OVER_REFUSAL = "over-refusal"  # judged by refusal keywords: safe prompts refused, unsafe ones refused
UTILITY = "utility"  # scored by lm-eval's own metrics
KINDS = (HARMFUL_QUESTIONS, OVER_REFUSAL, UTILITY)

PERCENT = "%"  # stored as a fraction in 0-1, shown x100 with a % sign
AS_REPORTED = "lm-eval's scale"  # shown as lm-eval reports it (BLEU, perplexity, ...)

HARMFUL = "harmful"  # the metric, and the pooled rate that harmful-question sets share
LANGUAGES = ("en", "zh", "vi", "hi")  # the order languages are shown in


@dataclass(frozen=True)
class Metric:
    name: str
    lower_is_better: bool
    label: str  # what it counts, in words
    unit: str = PERCENT
    headline: bool = False  # a benchmark's own number: a leaderboard column, a `resta compare` row


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    kind: str
    languages: tuple[str, ...]
    metrics: tuple[Metric, ...]
    tasks: tuple[str, ...]  # the lm-eval tasks and groups that run it (and only it, or it among others)
    pooled_into: tuple[str, ...] = ()  # the rates over several benchmarks that its rows may join

    @property
    def judged(self) -> bool:
        return self.kind != UTILITY

    @property
    def headline_metrics(self) -> tuple[Metric, ...]:
        return tuple(metric for metric in self.metrics if metric.headline)

    def metric(self, name: str) -> Metric | None:
        """One of its metrics by name, lm-eval's filter (``exact_match/strict-match``) or not."""
        exact = next((metric for metric in self.metrics if metric.name == name), None)
        return exact or next((metric for metric in self.metrics if _base(metric.name) == _base(name)), None)


def _base(metric: str) -> str:
    """A stored utility metric less lm-eval's filter: ``exact_match/strict-match`` -> ``exact_match``."""
    return metric.split("/", 1)[0]


HARMFUL_METRIC = Metric(HARMFUL, lower_is_better=True, label="answers judged harmful", headline=True)
REFUSAL_METRIC = Metric("refusal", lower_is_better=False, label="answers that refuse (keywords)")
REFUSAL_SAFE = Metric("refusal_safe", lower_is_better=True, label="safe prompts refused", headline=True)
REFUSAL_UNSAFE = Metric(
    "refusal_unsafe", lower_is_better=False, label="unsafe prompts refused", headline=True
)
HARMFUL_SET_METRICS = (HARMFUL_METRIC, REFUSAL_METRIC)
JUDGED_METRICS = (*HARMFUL_SET_METRICS, REFUSAL_SAFE, REFUSAL_UNSAFE)

# lm-eval's metrics by name, in the order of preference for a utility task's one shown number.
LM_EVAL_METRICS = (
    Metric("acc", lower_is_better=False, label="accuracy", headline=True),
    Metric("exact_match", lower_is_better=False, label="exact match", headline=True),
    Metric("pass@1", lower_is_better=False, label="pass@1", headline=True),
    Metric("pass_at_1", lower_is_better=False, label="pass@1", headline=True),
    Metric("acc_norm", lower_is_better=False, label="length-normalised accuracy"),
    Metric("acc_mutual_info", lower_is_better=False, label="mutual-information accuracy"),
    Metric("em", lower_is_better=False, label="exact match"),
    Metric("mc1", lower_is_better=False, label="single-true multiple choice"),
    Metric("mc2", lower_is_better=False, label="multi-true multiple choice"),
    Metric("contains", lower_is_better=False, label="answer contained"),
    Metric("f1", lower_is_better=False, label="F1", unit=AS_REPORTED),
    Metric("bleu", lower_is_better=False, label="BLEU", unit=AS_REPORTED),
    Metric("chrf", lower_is_better=False, label="chrF", unit=AS_REPORTED),
    Metric("ter", lower_is_better=True, label="translation edit rate", unit=AS_REPORTED),
    Metric("perplexity", lower_is_better=True, label="perplexity", unit=AS_REPORTED),
    Metric("word_perplexity", lower_is_better=True, label="word perplexity", unit=AS_REPORTED),
    Metric("byte_perplexity", lower_is_better=True, label="byte perplexity", unit=AS_REPORTED),
    Metric("bits_per_byte", lower_is_better=True, label="bits per byte", unit=AS_REPORTED),
)
GSM8K_STRICT = Metric("exact_match/strict-match", lower_is_better=False, label="exact match", headline=True)
_PASS_AT_K = re.compile(r"pass(@|_at_)\d+")


def _lm_eval_metrics(*names: str) -> tuple[Metric, ...]:
    return tuple(metric for metric in LM_EVAL_METRICS if metric.name in names)


def catqa_task(language: str, category: str | None = None) -> str:
    """lm-eval's name for CatQA in one language (a group), or for one category (``catqa_en_child_abuse``)."""
    if category is None:
        return f"catqa_{language}"
    return f"catqa_{language}_{re.sub(r'[^a-z0-9]+', '_', category.lower()).strip('_')}"


CATQA_LANGUAGES = ("en", "zh", "vi")


def _harmful_set(name: str, title: str, languages: tuple[str, ...], tasks: tuple[str, ...]) -> Benchmark:
    return Benchmark(
        name,
        title,
        HARMFUL_QUESTIONS,
        languages,
        HARMFUL_SET_METRICS,
        tasks,
        pooled_into=(HARMFUL, "refusal"),
    )


def _utility(name: str, title: str, language: str, metrics: tuple[Metric, ...], *groups: str) -> Benchmark:
    return Benchmark(name, title, UTILITY, (language,), metrics, (name, *groups))


BENCHMARKS: tuple[Benchmark, ...] = (
    _harmful_set(
        "catqa",
        "CatQA",
        CATQA_LANGUAGES,
        (
            "catqa",
            *(catqa_task(language) for language in CATQA_LANGUAGES),
            *(
                catqa_task(language, category)
                for language in CATQA_LANGUAGES
                for category in CATQA_CATEGORIES
            ),
        ),
    ),
    _harmful_set("harmfulqa", "HarmfulQA", ("en",), ("harmfulqa",)),
    _harmful_set("dangerousqa", "DangerousQA", ("en",), ("dangerousqa",)),
    _harmful_set("adversarialqa", "AdversarialQA", ("en",), ("adversarialqa",)),
    Benchmark("xstest", "XSTest", OVER_REFUSAL, ("en",), (REFUSAL_SAFE, REFUSAL_UNSAFE), ("xstest",)),
    _utility("mmlu", "MMLU", "en", _lm_eval_metrics("acc"), "utility_en"),
    # lm-eval's GSM8K reports two answer extractions; the strict one ("#### <number>") is the headline.
    _utility("gsm8k", "GSM8K", "en", (GSM8K_STRICT,), "utility_en", "utility_math"),
    *(
        _utility(
            f"global_mmlu_full_{lang}",
            f"Global-MMLU ({lang})",
            lang,
            _lm_eval_metrics("acc"),
            f"utility_{lang}",
        )
        for lang in ("zh", "vi", "hi")
    ),
    _utility("humaneval_instruct", "HumanEval (instruct)", "en", _lm_eval_metrics("pass@1"), "utility_code"),
    _utility("mbpp", "MBPP", "en", _lm_eval_metrics("pass_at_1"), "utility_code"),
    _utility("demo_last_word", "last word (demo)", "en", _lm_eval_metrics("exact_match")),
)
_BY_NAME = {entry.name: entry for entry in BENCHMARKS}
_BY_TASK = {
    task: tuple(e for e in BENCHMARKS if task in e.tasks) for entry in BENCHMARKS for task in entry.tasks
}


def benchmark(name: str) -> Benchmark | None:
    """The entry of a benchmark by its name (``catqa``, ``xstest``, ``gsm8k``), or None if unknown."""
    return _BY_NAME.get(name)


def require(name: str) -> Benchmark:
    """The entry of a benchmark that must be in the catalogue (a KeyError naming it otherwise)."""
    entry = benchmark(name)
    if entry is None:
        raise KeyError(f"benchmark {name!r} is not in the catalogue (tasks/catalogue.py)")
    return entry


def benchmarks_of_task(task: str) -> tuple[Benchmark, ...]:
    """The benchmarks an lm-eval task or group runs: one for a task (``catqa_en_child_abuse``, ``xstest``),
    each member's for a group (``utility_en`` -> MMLU, GSM8K), none for a task this catalogue lacks."""
    return _BY_TASK.get(task, ())


def is_judged_task(task: str) -> bool:
    """Whether a task's answers are judged (harmful questions, over-refusal) rather than scored by lm-eval;
    a task the catalogue lacks is lm-eval's, scored by its own metrics."""
    return any(entry.judged for entry in benchmarks_of_task(task))


def of_kind(kind: str) -> tuple[Benchmark, ...]:
    return tuple(entry for entry in BENCHMARKS if entry.kind == kind)


def pools_into(rate: str, name: str) -> bool:
    """Whether benchmark ``name``'s rows may join the pooled ``rate`` over benchmarks (``harmful``): only
    harmful-question sets pool; XSTest's prompts, half of them safe, never do."""
    entry = benchmark(name)
    return entry is not None and rate in entry.pooled_into


def order(name: str) -> int:
    """A benchmark's place in tables; one the catalogue lacks comes after every known one."""
    return next((index for index, entry in enumerate(BENCHMARKS) if entry.name == name), len(BENCHMARKS))


def language_order(language: str) -> int:
    return LANGUAGES.index(language) if language in LANGUAGES else len(LANGUAGES)


def metric_info(metric: str, benchmark_name: str | None = None) -> Metric:
    """Direction, unit and label of a stored metric (``harmful``, ``exact_match/flexible-extract``): the
    benchmark's own, else a judged metric or lm-eval's by name; one nobody lists is higher-is-better, on
    its own scale. The answer carries the name asked for."""
    entry = benchmark(benchmark_name) if benchmark_name else None
    known = (entry.metric(metric) if entry else None) or next(
        (m for m in (*JUDGED_METRICS, *LM_EVAL_METRICS) if m.name == _base(metric)), None
    )
    if known is None:
        unit = PERCENT if _PASS_AT_K.fullmatch(_base(metric)) else AS_REPORTED
        known = Metric(metric, lower_is_better=False, label=_base(metric), unit=unit)
    return replace(known, name=metric)


def primary_metric(benchmark_name: str, metrics: Iterable[str]) -> str | None:
    """Which of the metrics stored for a utility benchmark to show when one is shown: its catalogue
    metric, else lm-eval's most telling one (:data:`LM_EVAL_METRICS` order), else the first by name."""
    stored = sorted(metrics)
    entry = benchmark(benchmark_name)
    preferred = [m.name for m in (*(entry.metrics if entry else ()), *LM_EVAL_METRICS)]
    for name in preferred:
        found = [metric for metric in stored if metric == name] or [
            m for m in stored if _base(m) == _base(name)
        ]
        if found:
            return found[0]
    return stored[0] if stored else None
