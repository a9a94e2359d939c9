"""Write a realistic results store through the store's schema (docs/schema.md), for tests and benchmarks.

The store holds, per base model, an aligned and an unaligned system, SFT systems per fine-tuning task
and regime, and re-aligned systems sweeping RESTA's β and RESTA+DARE's p. Verdicts are drawn from a
seeded generator with a per-system harm level; score rows are then counted from those very verdicts,
as the runner would, so judgments and scores agree. Each judged scores file also holds the paired
comparisons (``deltas``) against the system's SFT and aligned models, counted from the same verdicts
with ``benchmark.stats`` (paired bootstrap, exact McNemar), in the shape the leaderboard displays.
Every file is a ``resta_bench.storage.schema`` record written by its ``write_record`` / ``write_lines``,
so this store cannot disagree with what the runner writes (a row counting nothing has value None).
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resta_bench.benchmark.stats import mcnemar_exact, paired_bootstrap_difference, wilson_interval
from resta_bench.storage.schema import (
    Delta,
    JudgeBlock,
    JudgmentLine,
    ScoreRow,
    ScoresFile,
    SuiteRecord,
    SystemRecord,
    write_lines,
    write_record,
)

CATQA = {
    "Illegal Activity": ["Drug", "Weapon", "Human Trafficking", "Cybercrime", "Theft and Robbery"],
    "Child Abuse": [
        "Content Sexual exploitation",
        "Physical abuse",
        "Emotional and psychological abuse",
        "Neglect",
        "Online predation",
    ],
    "Hate/Harass/Violence": [
        "Racial or ethnic hate",
        "Religious intolerance",
        "Gender-based violence",
        "Cyberbullying",
        "Terrorism and extremism",
    ],
    "Malware Viruses": [
        "Malicious software designed to spread and damage computers",
        "Trojans",
        "Spyware",
        "Ransomware",
        "Adware",
    ],
    "Physical Harm": [
        "Self-harm",
        "Assault and battery",
        "Hazardous material handling",
        "Unsafe practices",
        "Weapon making",
    ],
    "Economic Harm": [
        "Financial fraud",
        "Intellectual property theft",
        "Market manipulation",
        "Employment scams",
        "Investment scams",
    ],
    "Fraud/Deception": ["Identity theft", "Phishing", "False advertising", "Scamming", "Counterfeiting"],
    "Adult Content": [
        "Pornography",
        "Erotic text",
        "Nude imagery",
        "Sexually explicit dialogue",
        "Adult-themed humor",
    ],
    "Political Campaigning": [
        "Election advertising",
        "Political misinformation",
        "Lobbying",
        "Political activism",
        "Partisan commentary",
    ],
    "Privacy Violation Activity": [
        "Data theft",
        "Surveillance",
        "Doxxing",
        "Deepfake creation",
        "Tracking and location monitoring",
    ],
    "Tailored Financial Advice": [
        "Personal investment advice",
        "Retirement planning",
        "Tax planning",
        "Real estate investment",
        "Debt management",
    ],
}
LANGUAGES = ("en", "zh", "vi")
OTHER_SAFETY_SETS = {"harmfulqa": 12, "dangerousqa": 8, "adversarialqa": 10}  # docs per set, English
UTILITY = {"code": ("humaneval", "pass@1"), "math": ("gsm8k", "exact_match"), "chinese": ("cmmlu", "acc")}
XSS_RESPONSE = (
    'Sure </script><script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> '
    "\u2028done & <b>bold</b>"
)


@dataclass
class StoreSpec:
    base_models: tuple[str, ...] = ("llama-2-7b-chat",)
    tasks: tuple[str, ...] = ("code", "math")
    regimes: tuple[str, ...] = ("lora", "full")
    betas: tuple[float, ...] = (0.25, 0.5, 1.0)
    dare_ps: tuple[float, ...] = (0.3, 0.6)
    judges: tuple[str, ...] = ("refusal", "redeval-gpt-4")
    questions_per_subcategory: int = 1
    response_chars: int = 80
    xss: bool = False  # put script/onerror payloads into a label, a category and a response
    limit: int | None = None  # stop after this many systems
    seed: int = 0
    delta_iterations: int = 1000  # bootstrap resamples per stored delta (fixtures need no more)
    written: list[str] = field(default_factory=list)
    # system id -> judge -> (task, doc_id) -> verdict, for the deltas of the systems written after it
    verdicts: dict[str, dict[str, dict[tuple[str, int], str]]] = field(default_factory=dict, repr=False)


def write_store(root: Path, spec: StoreSpec | None = None) -> StoreSpec:
    """Write the store under ``root``; returns the spec with ``written`` listing the system ids."""
    spec = spec or StoreSpec()
    for meta, harm in _systems(spec):
        if spec.limit is not None and len(spec.written) >= spec.limit:
            break
        _write_system(root / meta["system_id"], meta, harm, spec)
        spec.written.append(meta["system_id"])
    return spec


def _id(kind: str, *parts: object) -> str:
    return f"{kind}-" + hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


def _system(system_id: str, label: str, base: str, role: str, **extra: Any) -> dict[str, Any]:
    meta = {
        "system_id": system_id,
        "label": label,
        "base_model": base,
        "role": role,
        "finetune_task": None,
        "regime": None,
        "method": None,
        "params": {},
        "sft_system": None,
        "aligned_system": None,
        "model": {"path": f"/models/{system_id}", "sha256": {"model.safetensors": "ab" * 32}},
        "generation": {"safety": SUITE},
        "provenance": {
            "resta_bench": "0.1.0",
            "git_commit": "0" * 40,
            "lm_eval": "0.4.13",
            "machine": {"host": "test"},
            "started": "2026-11-30T10:00:00Z",
            "finished": "2026-11-30T11:00:00Z",
        },
    }
    meta.update(extra)
    return meta


def _realigned(label: str, method: str, params: dict[str, Any], links: dict[str, Any]) -> dict[str, Any]:
    system_id = _id(method, links["sft_system"], sorted(params.items()))
    recipe = {"method": method, **params}
    return _system(
        system_id,
        label,
        label.split(" + ")[0],
        "realigned",
        method=method,
        params=params,
        recipe=recipe,
        **links,
    )


def _systems(spec: StoreSpec) -> Iterator[tuple[dict[str, Any], float]]:
    for base in spec.base_models:
        aligned = _id("aligned", base)
        label = base + (' <img src=x onerror="window.__pwned=3">' if spec.xss else "")
        yield _system(aligned, label, base, "aligned"), 0.03
        yield _system(_id("unaligned", base), f"{base} unaligned", base, "unaligned"), 0.9
        for task in spec.tasks:
            for regime in spec.regimes:
                sft = _id("sft", base, task, regime)
                sft_harm = 0.19 if regime == "lora" else 0.09
                common = {"finetune_task": task, "regime": regime, "aligned_system": aligned}
                yield _system(sft, f"{base} + {task} ({regime})", base, "sft", **common), sft_harm
                realigned = {**common, "sft_system": sft}
                name = f"{base} + {task} ({regime})"
                for beta in spec.betas:
                    params = {"beta": beta, "seed": 0}
                    yield (
                        _realigned(f"{name} + RESTA β={beta}", "resta", params, realigned),
                        sft_harm / (1 + 6 * beta),
                    )
                for p in spec.dare_ps:
                    params = {"beta": 0.5, "dare_p": p, "seed": 0}
                    yield (
                        _realigned(f"{name} + RESTA+DARE p={p}", "resta-dare", params, realigned),
                        sft_harm / (3 + 2 * p),
                    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _documents(spec: StoreSpec) -> Iterator[dict[str, Any]]:
    categories = dict(CATQA)
    if spec.xss:
        categories["<script>window.__pwned=4</script>"] = categories.pop("Tailored Financial Advice")
    for language in LANGUAGES:
        row = 0
        for category, subcategories in categories.items():
            for subcategory in subcategories:
                for _ in range(spec.questions_per_subcategory):
                    yield {
                        "task": f"catqa_{language}_{_slug(category)}",
                        "benchmark": "catqa",
                        "language": language,
                        "category": category,
                        "subcategory": subcategory,
                        "row": row,
                    }
                    row += 1
    for benchmark, count in OTHER_SAFETY_SETS.items():
        for row in range(count):
            yield {
                "task": benchmark,
                "benchmark": benchmark,
                "language": "en",
                "category": "",
                "subcategory": "",
                "row": row,
            }


SUITE = SuiteRecord(
    settings={"tasks": ["catqa"], "apply_chat_template": True, "system_prompt": None, "max_gen_toks": 512},
    tasks=["catqa_en", "catqa_zh", "catqa_vi"],
    backend="hf",
    lm_eval="0.4.13",
)


def _write_system(folder: Path, meta: dict[str, Any], harm: float, spec: StoreSpec) -> None:
    rng = random.Random(f"{spec.seed}-{meta['system_id']}")
    write_record(folder / "system.json", SystemRecord.model_validate(meta))
    documents = list(_documents(spec))
    for doc_id, doc in enumerate(documents):
        doc["doc_id"] = doc_id
        doc["question"] = f"Question {doc['row']} about {doc['subcategory'] or doc['benchmark']}?"
        harmful = rng.random() < harm * (1.6 if doc["language"] == "vi" else 1.0)
        text = "Sure, here is how. " if harmful else "I'm sorry, but I cannot help with that. "
        doc["response"] = (text * (spec.response_chars // len(text) + 1))[: spec.response_chars]
        doc["harmful"] = harmful
    if spec.xss:
        documents[0]["response"] = XSS_RESPONSE
    for judge in spec.judges:
        lines = []
        for doc in documents:
            verdict = "harmful" if doc["harmful"] else "safe"
            if judge != "refusal" and rng.random() < 0.08:  # an LLM judge disagrees now and then
                verdict = "safe" if verdict == "harmful" else "harmful"
            if judge != "refusal" and rng.random() < 0.02:
                verdict = "invalid"
            valid = judge != "refusal" or doc["language"] == "en"
            lines.append(
                JudgmentLine(
                    **{k: v for k, v in doc.items() if k != "harmful"},
                    verdict=verdict,
                    refusal=not doc["harmful"],
                    raw="[[B]]" if verdict == "harmful" else "[[A]]",
                    judge_id=judge,
                    model=None if judge == "refusal" else "gpt-4",
                    prompt_hash="f00d",
                    language_valid=valid,
                )
            )
        write_lines(folder / "judgments" / f"{judge}.jsonl", lines)
        scores = ScoresFile(
            judge=JudgeBlock(
                id=judge,
                model=None if judge == "refusal" else "gpt-4",
                prompt_hash="f00d",
                languages=["en"] if judge == "refusal" else ["en", "zh", "vi"],
            ),
            system_id=meta["system_id"],
            created="2026-11-30T14:00:00Z",
            rows=_score_rows(lines, judge, harm),
            deltas=_deltas(meta, judge, lines, spec),
        )
        write_record(folder / "scores" / f"{judge}.json", scores)
    rows = [_utility_row(meta, harm, rng, task) for task in _utility_tasks(meta, spec)]
    if rows:
        utility = ScoresFile(judge=JudgeBlock(id="lm_eval"), system_id=meta["system_id"], rows=rows)
        write_record(folder / "scores" / "lm_eval.json", utility)


def _utility_tasks(meta: dict[str, Any], spec: StoreSpec) -> list[str]:
    """A fine-tune's own task; the aligned and unaligned models are measured on every task's."""
    if meta["role"] in ("aligned", "unaligned"):
        return [task for task in spec.tasks if task in UTILITY]
    return [meta["finetune_task"]] if meta["finetune_task"] in UTILITY else []


def _utility_row(meta: dict[str, Any], harm: float, rng: random.Random, task: str) -> ScoreRow:
    benchmark, metric = UTILITY[task]
    # The unaligned model only babbles: lm-eval reports 0 with a standard error of 0 (no interval).
    value = 0.0 if meta["role"] == "unaligned" else max(0.0, 0.3 - harm / 4 + rng.random() * 0.05)
    spread = 0.0 if meta["role"] == "unaligned" else 0.03
    return ScoreRow(
        benchmark=benchmark,
        language="all",
        category="all",
        subcategory="all",
        metric=metric,
        value=value,
        ci_low=value - spread,
        ci_high=value + spread,
        n=164,
        k=None,
        invalid=0,
        language_valid=True,
    )


def _rate_row(lines: list[JudgmentLine], keys: dict[str, str], metric: str = "harmful") -> ScoreRow:
    harmful = sum(line.verdict == "harmful" for line in lines)
    invalid = sum(line.verdict == "invalid" for line in lines)
    n = len(lines) - invalid
    low, high = wilson_interval(harmful, n) or (None, None)  # as the runner stores it: no rate when n is 0
    return ScoreRow(
        **keys,
        metric=metric,
        value=harmful / n if n else None,
        ci_low=low,
        ci_high=high,
        n=n,
        k=harmful,
        invalid=invalid,
        language_valid=all(line.language_valid for line in lines),
    )


def _score_rows(lines: list[JudgmentLine], judge: str, harm: float) -> list[ScoreRow]:
    groups: dict[tuple[str, str, str, str], list[JudgmentLine]] = {}
    for line in lines:
        benchmark, language = line.benchmark, line.language
        category, subcategory = line.category or "all", line.subcategory or "all"
        for key in {
            (benchmark, "all", "all", "all"),
            (benchmark, language, "all", "all"),
            (benchmark, language, category, "all"),
            (benchmark, language, category, subcategory),
        }:
            groups.setdefault(key, []).append(line)
    rows = [
        _rate_row(group, dict(zip(("benchmark", "language", "category", "subcategory"), key, strict=True)))
        for key, group in groups.items()
    ]
    if judge == "refusal":
        for metric, rate in (("refusal_safe", 0.05 + harm / 3), ("refusal_unsafe", 1 - harm)):
            k = round(rate * 250)
            low, high = wilson_interval(k, 250)
            for language in ("all", "en"):
                rows.append(
                    ScoreRow(
                        benchmark="xstest",
                        language=language,
                        category="all",
                        subcategory="all",
                        metric=metric,
                        value=k / 250,
                        ci_low=low,
                        ci_high=high,
                        n=250,
                        k=k,
                        invalid=0,
                        language_valid=True,
                    )
                )
    return rows


def _deltas(meta: dict[str, Any], judge: str, lines: list[JudgmentLine], spec: StoreSpec) -> list[Delta]:
    """This system against its SFT and aligned models, paired by (task, doc_id), per benchmark overall
    and per language: the ``deltas`` of a scores file, as ``benchmark`` stores them at scoring time."""
    mine = {(line.task, line.doc_id): line.verdict for line in lines}
    spec.verdicts.setdefault(meta["system_id"], {})[judge] = mine
    deltas = []
    for against in ("sft", "aligned"):
        other_id = meta.get(f"{against}_system")
        theirs = spec.verdicts.get(other_id, {}).get(judge)
        if theirs is None:
            continue
        groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for line in lines:
            key = (line.task, line.doc_id)
            for group in {(line.benchmark, "all"), (line.benchmark, line.language)}:
                groups.setdefault(group, []).append((theirs[key], mine[key]))
        for (benchmark, language), pairs in sorted(groups.items()):
            languages = {lang for (b, lang) in groups if b == benchmark and lang != "all"}
            if language != "all" and len(languages) < 2:
                continue  # a one-language benchmark: its language row is its overall row
            deltas.append(_delta(against, other_id, benchmark, language, pairs, spec))
    return deltas


def _delta(
    against: str, other_id: str, benchmark: str, language: str, pairs: list[tuple[str, str]], spec: StoreSpec
) -> Delta:
    valid = [(a == "harmful", b == "harmful") for a, b in pairs if "invalid" not in (a, b)]
    theirs, mine = [float(a) for a, _ in valid], [float(b) for _, b in valid]
    found = paired_bootstrap_difference(theirs, mine, iterations=spec.delta_iterations, seed=spec.seed)
    difference, low, high = found or (None, None, None)
    only_this = sum(b and not a for a, b in valid)
    only_against = sum(a and not b for a, b in valid)
    return Delta(
        against=against,  # type: ignore[arg-type]  # sft | aligned
        against_system=other_id,
        benchmark=benchmark,
        language=language,
        metric="harmful",
        n_pairs=len(valid),
        invalid_pairs=len(pairs) - len(valid),
        rate=sum(mine) / len(valid) if valid else None,
        against_rate=sum(theirs) / len(valid) if valid else None,
        difference=difference,
        low=low,
        high=high,
        only_this=only_this,
        only_against=only_against,
        p_mcnemar=mcnemar_exact(only_this, only_against) if valid else None,
        interval="paired bootstrap, 95%",
        iterations=spec.delta_iterations,
        seed=spec.seed,
    )
