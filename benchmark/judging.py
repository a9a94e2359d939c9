"""Judge a system's lm-eval samples and score them (``judgments/<id>.jsonl``, ``scores/<id>.json``).

Library entry points:

- :func:`judge_run_dir` — one system folder (or a bare lm-eval ``--output_path``) and a judge
  object; what ``resta judge`` does for each RUN_DIR.
- :func:`judge_and_score` — the runner's step: a system in a :class:`~benchmark.store.ResultsStore`,
  a judge by name and options, the suites whose lm-eval output to read.

Only the samples of judged benchmarks are judged (harmful questions and over-refusal, as the benchmark
catalogue ``tasks/catalogue.py`` says, by the doc's ``benchmark`` or else the task's name). Every
response is judged: a suite with several samples per question writes a judgment line per sample
(``sample`` is its index), and its scores average over them.
Progress lives in the judge cache (every verdict is committed as it arrives), so a killed run resumes
where it stopped; the judgments and scores files are written whole, atomically, at the end.

A system of a results store gets its ``deltas`` against its SFT and aligned models at scoring time, and
the systems that name it as theirs get theirs again (``compare.paired_deltas``), so that whichever is
judged last, the stored deltas pair the current verdicts.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from resta_bench.benchmark.agreement import write_store_agreement, write_system_agreement
from resta_bench.benchmark.compare import ALL, headline_metrics
from resta_bench.benchmark.compare import paired_deltas as stored_deltas
from resta_bench.benchmark.errors import ConfigError
from resta_bench.benchmark.lm_eval_output import Sample, read_samples, samples_files
from resta_bench.benchmark.scoring import scores_document
from resta_bench.benchmark.store import (
    SYSTEM_FILE,
    ResultsStore,
    judgments_path,
    scores_path,
)
from resta_bench.judges import Judge, JudgeItem, Judgment, get_judge, is_refusal
from resta_bench.judges.cache import JudgmentCache, default_cache_path
from resta_bench.judges.refusal import LANGUAGES as REFUSAL_LANGUAGES
from resta_bench.judges.run import judge_items
from resta_bench.storage.schema import (
    JudgeBlock,
    JudgedResponse,
    JudgmentLine,
    ScoreRow,
    ScoresFile,
    SystemRecord,
    read_record,
    write_lines,
    write_record,
)
from resta_bench.tasks import catalogue

log = logging.getLogger(__name__)


@dataclass
class JudgeSummary:
    judge_id: str
    judgments_path: Path
    scores_path: Path
    verdicts: dict[str, int] = field(default_factory=dict)  # every judgment line's, for system.json
    invalid_languages: list[str] = field(default_factory=list)
    pooled: dict[str, Counter[str]] = field(default_factory=dict)  # harmful-question set -> verdicts
    own_rows: list[dict[str, Any]] = field(default_factory=list)  # other benchmarks' overall rows

    def as_record(self) -> dict[str, Any]:
        """For ``system.json``'s ``runs.scores`` (the files' paths follow from the judge id)."""
        return {
            "judge_id": self.judge_id,
            "verdicts": self.verdicts,
            "invalid_languages": self.invalid_languages,
        }

    def describe(self) -> str:
        """One line: the verdicts pooled over harmful-question sets, then each other benchmark in its own
        metrics (XSTest's refusals of safe and of unsafe prompts)."""
        parts = []
        if self.pooled:
            verdicts = sum(self.pooled.values(), Counter())
            counts = f"harmful {verdicts['harmful']}, safe {verdicts['safe']}"
            counts += f", invalid {verdicts['invalid']}" if verdicts["invalid"] else ""
            parts.append(f"harmful questions ({', '.join(self.pooled)}): {counts}")
        benchmarks = dict.fromkeys(row["benchmark"] for row in self.own_rows)
        for name in benchmarks:
            rows = [row for row in self.own_rows if row["benchmark"] == name]
            parts.append(f"{name}: " + ", ".join(f"{r['metric']} {r['k']}/{r['n']}" for r in rows))
        return f"{self.judgments_path}: {'; '.join(parts)}"


def _judged_benchmark(sample: Sample) -> catalogue.Benchmark | None:
    """The catalogue's entry for a sample's benchmark (its doc's, else its task's) if it is judged."""
    name = sample.doc.get("benchmark")
    found = (
        (catalogue.benchmark(name),) if isinstance(name, str) else catalogue.benchmarks_of_task(sample.task)
    )
    return next((entry for entry in found if entry is not None and entry.judged), None)


def _sample_folders(root: Path) -> list[Path]:
    """The folders under ``root`` that hold samples files: one per model lm-eval ran (and per suite in a
    system folder); hidden ones (a run's staging) are left out."""
    if not root.is_dir():
        raise ConfigError(f"{root}: no such directory")
    parents = {path.parent for path in root.rglob("samples_*.jsonl")}
    return sorted(p for p in parents if not any(part.startswith(".") for part in p.relative_to(root).parts))


def _newest_samples(roots: Iterable[Path]) -> dict[str, Path]:
    """The newest samples file of each task under these folders. A task with samples in more than one
    folder (two suites, two models) is said so in one warning: only the newest is judged."""
    found: dict[str, list[Path]] = {}
    for root in roots:
        for folder in _sample_folders(root):
            for task, path in samples_files(folder).items():
                found.setdefault(task, []).append(path)
    newest = {}
    for task, paths in sorted(found.items()):
        # The names differ only in lm-eval's timestamp, so the greatest name is the newest run.
        newest[task] = max(paths, key=lambda path: path.name)
        if len(paths) > 1:
            folders = ", ".join(str(path.parent) for path in paths)
            log.warning(
                "task %s has samples in %d folders (%s); judging only the newest, %s",
                task,
                len(paths),
                folders,
                newest[task],
            )
    return newest


def safety_samples(roots: Sequence[Path]) -> list[Sample]:
    """The samples of judged benchmarks under these lm-eval output folders."""
    samples = []
    for task, path in _newest_samples(roots).items():
        for sample in sorted(read_samples(path, task), key=lambda s: (s.doc_id, s.sample)):
            entry = _judged_benchmark(sample)
            if entry is None:
                continue
            if not isinstance(sample.doc.get("question"), str):
                raise ConfigError(f"{path}: doc_id {sample.doc_id} of {entry.title} has no 'question' text")
            # The catalogue's name, also for a doc that does not say its benchmark.
            samples.append(replace(sample, doc={**sample.doc, "benchmark": entry.name}))
    if not samples:
        shown = ", ".join(str(root) for root in roots)
        raise ConfigError(f"{shown}: no safety-task samples (harmful questions, over-refusal) found")
    return samples


def judgment_line(sample: Sample, judgment: Judgment, judge: Judge) -> JudgmentLine:
    """One line of ``judgments/<judge_id>.jsonl`` (docs/schema.md)."""
    doc = sample.doc
    language = doc.get("language", "en")
    judged = JudgedResponse.of(
        judgment, refusal=is_refusal(sample.response, language), language_valid=judge.is_valid_for(language)
    )
    return JudgmentLine(
        **dict(judged),
        task=sample.task,
        doc_id=sample.doc_id,
        sample=sample.sample,
        benchmark=doc["benchmark"],
        language=language,
        # Over-refusal docs have a prompt type where harmful-question docs have a category.
        category=doc.get("category") or doc.get("type") or "",
        subcategory=doc.get("subcategory") or "",
        row=doc.get("row", sample.doc_id),
        question=doc["question"],
        response=sample.response,
        label=doc.get("label"),
    )


def _system_id(system_dir: Path) -> str:
    path = system_dir / SYSTEM_FILE
    # A bare lm-eval output folder judged in place has no system.json: its folder names it.
    return read_record(SystemRecord, path).system_id if path.is_file() else system_dir.name


def judge_into(
    system_dir: Path,
    lm_eval_roots: Sequence[Path],
    judge: Judge,
    *,
    cache: JudgmentCache | None,
    progress: bool = True,
    store: ResultsStore | None = None,
) -> JudgeSummary:
    """Judge the safety samples under ``lm_eval_roots``; write judgments and scores into ``system_dir``.

    ``system_dir`` in ``store``: its scores get their deltas, and the systems that name it as their SFT or
    aligned model get theirs again."""
    judgments_file, scores_file = judgments_path(system_dir, judge.id), scores_path(system_dir, judge.id)
    samples = safety_samples(lm_eval_roots)
    items = [
        JudgeItem(s.doc["question"], s.response, s.doc.get("language", "en"), s.doc.get("category") or None)
        for s in samples
    ]
    judgments = judge_items(judge, items, cache=cache, progress=progress)
    lines = sorted(
        (judgment_line(s, j, judge) for s, j in zip(samples, judgments, strict=True)),
        key=lambda line: line.key,
    )
    write_lines(judgments_file, lines)
    judge_block = JudgeBlock(
        id=judge.id, model=judge.model, prompt_hash=judge.prompt_hash, languages=sorted(judge.languages)
    )
    deltas = stored_deltas(store, system_dir.name, judge.id) if store is not None else []
    scores = scores_document(
        lines,
        judge=judge_block,
        system_id=_system_id(system_dir),
        refusal_languages=REFUSAL_LANGUAGES,
        deltas=deltas,
    )
    write_record(scores_file, scores)
    write_system_agreement(system_dir)  # with this judge's new verdicts, against every other judge's
    if store is not None:
        _refresh_dependents(store, system_dir.name, judge.id)
        write_store_agreement(store)
    return _summary(judge.id, judgments_file, scores_file, lines, scores.rows)


def _summary(
    judge_id: str, judgments_file: Path, scores_file: Path, lines: list[JudgmentLine], rows: list[ScoreRow]
) -> JudgeSummary:
    pooled: dict[str, Counter[str]] = {}
    for name in sorted({line.benchmark for line in lines}, key=catalogue.order):
        if catalogue.pools_into(catalogue.HARMFUL, name):
            pooled[name] = Counter(line.verdict for line in lines if line.benchmark == name)
    own_rows = [
        row.model_dump()
        for row in rows
        if row.benchmark not in pooled
        and (row.language, row.category, row.subcategory) == (ALL, ALL, ALL)
        and row.metric in headline_metrics(row.benchmark)
    ]
    return JudgeSummary(
        judge_id=judge_id,
        judgments_path=judgments_file,
        scores_path=scores_file,
        verdicts=dict(Counter(line.verdict for line in lines)),
        invalid_languages=sorted({line.language for line in lines if not line.language_valid}),
        pooled=pooled,
        own_rows=sorted(own_rows, key=lambda row: catalogue.order(row["benchmark"])),
    )


def _refresh_dependents(store: ResultsStore, system_id: str, judge_id: str) -> None:
    """The deltas of the systems scored by this judge that name ``system_id`` as their SFT or aligned model,
    paired again with its new verdicts."""
    for other in store.system_ids():
        meta = store.read_system_record(other)
        named = meta is not None and system_id in (meta.sft_system, meta.aligned_system)
        path = store.scores_path(other, judge_id)
        if (
            other != system_id
            and named
            and path.is_file()
            and store.judgments_path(other, judge_id).is_file()
        ):
            scores = read_record(ScoresFile, path)
            write_record(path, scores.model_copy(update={"deltas": stored_deltas(store, other, judge_id)}))


def judge_run_dir(
    run_dir: str | Path, judge: Judge, *, cache: JudgmentCache | None = None, progress: bool = True
) -> list[JudgeSummary]:
    """Judge one system folder (its ``lm_eval/`` tree) or a bare lm-eval output folder, in place.

    A system folder of a results store is judged under the store's lock, as the runner writes it, and
    gets its deltas. A bare folder holding the output of several models (lm-eval writes one folder per
    model) has each model judged apart, into that model's folder: one summary per model.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"{run_dir}: no such directory")
    if (run_dir / SYSTEM_FILE).is_file():
        store = ResultsStore(run_dir.absolute().parent)
        with store.lock():
            return [
                judge_into(run_dir, [run_dir / "lm_eval"], judge, cache=cache, progress=progress, store=store)
            ]
    if (run_dir / "lm_eval").is_dir():
        return [judge_into(run_dir, [run_dir / "lm_eval"], judge, cache=cache, progress=progress)]
    models = _sample_folders(run_dir)
    if len(models) < 2:
        return [judge_into(run_dir, [run_dir], judge, cache=cache, progress=progress)]
    names = ", ".join(str(model.relative_to(run_dir)) for model in models)
    log.warning(
        "%s holds the lm-eval output of %d models (%s); judging each in its own folder",
        run_dir,
        len(models),
        names,
    )
    return [judge_into(model, [model], judge, cache=cache, progress=progress) for model in models]


def judge_and_score(
    store: ResultsStore, system_id: str, judge_name: str, options: dict[str, Any], suites: Sequence[str]
) -> dict[str, Any]:
    """The runner's judging step (under the runner's store lock); returns a summary for ``system.json``.

    Uses the default judge cache.
    """
    roots = [store.suite_dir(system_id, suite) for suite in suites]
    judge = get_judge(judge_name, **options)
    with JudgmentCache(default_cache_path()) as cache:
        summary = judge_into(store.system_dir(system_id), roots, judge, cache=cache, store=store)
    return summary.as_record()
