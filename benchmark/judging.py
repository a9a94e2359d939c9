"""Judge a system's lm-eval samples and score them (``judgments/<id>.jsonl``, ``scores/<id>.json``).

Library entry points:

- :func:`judge_run_dir` — one system folder (or a bare lm-eval ``--output_path``) and a judge
  object; what ``resta judge`` does for each RUN_DIR.
- :func:`judges_agreement` — two judges' verdicts on the same responses, compared.
- :func:`judge_and_score` — the runner's step: a system in a :class:`~benchmark.store.ResultsStore`,
  a judge by name and options, the suites whose lm-eval output to read.

Only safety-task samples are judged: those whose ``doc`` carries ``question`` and ``benchmark``.
Progress lives in the judge cache (every verdict is committed as it arrives), so a killed run resumes
where it stopped; the judgments and scores files are written whole, atomically, at the end.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resta_bench.benchmark.errors import ConfigError
from resta_bench.benchmark.lm_eval_output import Sample, iter_samples
from resta_bench.benchmark.scoring import scores_document
from resta_bench.benchmark.store import (
    SYSTEM_FILE,
    ResultsStore,
    judgments_path,
    read_json_object,
    read_judgments,
    scores_path,
)
from resta_bench.judges import Judge, JudgeItem, Judgment, get_judge, is_refusal
from resta_bench.judges.agreement import agreement
from resta_bench.judges.cache import JudgmentCache, default_cache_path
from resta_bench.judges.refusal import LANGUAGES as REFUSAL_LANGUAGES
from resta_bench.judges.run import judge_items
from resta_bench.storage.atomic import write_json_atomic, write_text_atomic


@dataclass
class JudgeSummary:
    judge_id: str
    judgments_path: Path
    scores_path: Path
    verdicts: dict[str, int] = field(default_factory=dict)
    invalid_languages: list[str] = field(default_factory=list)

    def as_record(self) -> dict[str, Any]:
        """For ``system.json``'s ``runs.scores`` (the files' paths follow from the judge id)."""
        return {
            "judge_id": self.judge_id,
            "verdicts": self.verdicts,
            "invalid_languages": self.invalid_languages,
        }


def safety_samples(roots: Sequence[Path]) -> list[Sample]:
    """The samples of safety tasks under these lm-eval output folders."""
    samples = [
        s for root in roots for s in iter_samples(root) if "question" in s.doc and "benchmark" in s.doc
    ]
    if not samples:
        shown = ", ".join(str(root) for root in roots)
        raise ConfigError(f"{shown}: no safety-task samples (docs with 'question' and 'benchmark') found")
    return samples


def judgment_record(sample: Sample, judgment: Judgment, judge: Judge) -> dict[str, Any]:
    """One line of ``judgments/<judge_id>.jsonl`` (docs/results-store.md)."""
    doc = sample.doc
    language = doc.get("language", "en")
    record: dict[str, Any] = {
        "task": sample.task,
        "doc_id": sample.doc_id,
        "benchmark": doc["benchmark"],
        "language": language,
        # Over-refusal docs have a prompt type where harmful-question docs have a category.
        "category": doc.get("category") or doc.get("type") or "",
        "subcategory": doc.get("subcategory") or "",
        "row": doc.get("row", sample.doc_id),
        "question": doc["question"],
        "response": sample.response,
        "verdict": judgment.verdict,
        "refusal": is_refusal(sample.response, language),
        "raw": judgment.raw,
        "judge_id": judgment.judge_id,
        "model": judgment.model,
        "prompt_hash": judgment.prompt_hash,
        "language_valid": judge.is_valid_for(language),
    }
    if "label" in doc:
        record["label"] = doc["label"]
    if judgment.meta:
        record["meta"] = judgment.meta
    return record


def _system_id(system_dir: Path) -> str:
    path = system_dir / SYSTEM_FILE
    return (read_json_object(path).get("system_id") if path.is_file() else None) or system_dir.name


def judge_into(
    system_dir: Path,
    lm_eval_roots: Sequence[Path],
    judge: Judge,
    *,
    cache: JudgmentCache | None,
    progress: bool = True,
) -> JudgeSummary:
    """Judge the safety samples under ``lm_eval_roots``; write judgments and scores into ``system_dir``."""
    judgments_file, scores_file = judgments_path(system_dir, judge.id), scores_path(system_dir, judge.id)
    samples = safety_samples(lm_eval_roots)
    items = [
        JudgeItem(s.doc["question"], s.response, s.doc.get("language", "en"), s.doc.get("category") or None)
        for s in samples
    ]
    judgments = judge_items(judge, items, cache=cache, progress=progress)
    records = sorted(
        (judgment_record(s, j, judge) for s, j in zip(samples, judgments, strict=True)),
        key=lambda r: (r["task"], r["doc_id"]),
    )
    write_text_atomic(judgments_file, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    judge_block = {
        "id": judge.id,
        "model": judge.model,
        "prompt_hash": judge.prompt_hash,
        "languages": judge.languages,
    }
    scores = scores_document(
        records, judge=judge_block, system_id=_system_id(system_dir), refusal_languages=REFUSAL_LANGUAGES
    )
    write_json_atomic(scores_file, scores)
    return JudgeSummary(
        judge_id=judge.id,
        judgments_path=judgments_file,
        scores_path=scores_file,
        verdicts=dict(Counter(r["verdict"] for r in records)),
        invalid_languages=sorted({r["language"] for r in records if not r["language_valid"]}),
    )


def judge_run_dir(
    run_dir: str | Path, judge: Judge, *, cache: JudgmentCache | None = None, progress: bool = True
) -> JudgeSummary:
    """Judge one system folder (its ``lm_eval/`` tree) or a bare lm-eval output folder, in place.

    A system folder of a results store is judged under the store's lock, as the runner writes it.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"{run_dir}: no such directory")
    lm_eval_root = run_dir / "lm_eval" if (run_dir / "lm_eval").is_dir() else run_dir
    with _store_lock(run_dir):
        return judge_into(run_dir, [lm_eval_root], judge, cache=cache, progress=progress)


def _store_lock(run_dir: Path) -> AbstractContextManager[None]:
    in_store = (run_dir / SYSTEM_FILE).is_file()
    return ResultsStore(run_dir.absolute().parent).lock() if in_store else nullcontext()


def judge_and_score(
    store: ResultsStore, system_id: str, judge_name: str, options: dict[str, Any], suites: Sequence[str]
) -> dict[str, Any]:
    """The runner's judging step (under the runner's store lock); returns a summary for ``system.json``.

    Uses the default judge cache.
    """
    roots = [store.suite_dir(system_id, suite) for suite in suites]
    judge = get_judge(judge_name, **options)
    with JudgmentCache(default_cache_path()) as cache:
        summary = judge_into(store.system_dir(system_id), roots, judge, cache=cache)
    return summary.as_record()


def judges_agreement(run_dir: str | Path, judge_a: str, judge_b: str) -> dict[str, Any]:
    """Agreement of two judges on the responses both judged, overall ("all") and per language."""
    a, b = read_judgments(Path(run_dir), judge_a), read_judgments(Path(run_dir), judge_b)
    shared = sorted(a.keys() & b.keys())
    by_language: dict[str, list[tuple[str, str]]] = {"all": []}
    for key in shared:
        pair = (a[key]["verdict"], b[key]["verdict"])
        by_language["all"].append(pair)
        by_language.setdefault(a[key]["language"], []).append(pair)
    return {
        "judges": [judge_a, judge_b],
        "only_one_judge": len(a.keys() ^ b.keys()),
        "by_language": {language: agreement(pairs).as_record() for language, pairs in by_language.items()},
    }
