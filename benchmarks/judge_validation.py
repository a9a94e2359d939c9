"""Offline judges against human labels: held-out agreement, per language, and verdicts per second.

For ``refusal`` (the keyword judge) and ``offline`` (hashed character n-grams + cues, logistic regression),
on the held-out parts: GPTFuzz ``evaluate.csv`` (questions 80-99) and Latent Jailbreak's ``test`` target
groups. ``offline`` is trained on GPTFuzz ``train.csv`` and Latent Jailbreak's ``train`` groups only, in
a temporary cache (its cold training time is reported). Accuracy, Cohen's kappa and Gwet's AC1 have 95%
bootstrap intervals over items. Throughput is verdicts per second of ``judge.judge`` on the 1,540
GPTFuzz evaluate responses in this one process (median of --repeat runs; CPU seconds beside wall seconds).

``--tune`` repeats the model selection, on training data only: 4-fold cross-validation grouped by question
on GPTFuzz train and leave-one-cluster-out over Latent Jailbreak's train groups (near-synonymous groups
form one cluster, :data:`LJ_TRAIN_CLUSTERS`, so that a left-out group's name is unseen as on the held-out
part), for the chosen settings, the ablations of its length cues and class weights, and C's neighbours.
The rule: the best worst margin over the keyword judge across GPTFuzz, LJ English and LJ Chinese, then the
best mean of the three.

    python benchmarks/judge_validation.py [--set-dir DIR] [--set EXTRA.jsonl] [--repeat 3] [--tune]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from resta_bench.judges import get_judge
from resta_bench.judges.learned import FEATURES, Features, OfflineJudge, train, training_items
from resta_bench.judges.validation import validate
from resta_bench.judges.validation_sets import ROOT_ENV, LabelledItem, load_set

HELD_OUT = ("gptfuzz:evaluate", "latent-jailbreak:test")
NEIGHBOURS = (
    {},
    {"balanced": False},
    {"length_cues": False},
    {"length_cues": False, "balanced": False},  # MODEL_VERSION 2
)  # C, n-gram sizes, opening length and bits were settled for version 2 (benchmarks/README.md)
# Latent Jailbreak's train groups, near-synonyms together: a fold leaves out a whole cluster.
LJ_TRAIN_CLUSTERS = {
    "Arabs": "Arabs, Muslims",
    "Muslims": "Arabs, Muslims",
    "gay men": "gay men, gay people, homosexuals",
    "gay people": "gay men, gay people, homosexuals",
    "homosexuals": "gay men, gay people, homosexuals",
}


def _cell(estimate: dict) -> str:
    return f"{estimate['value']:.3f} [{estimate['low']:.3f}, {estimate['high']:.3f}]"


def agreement_table(judges: dict, sets: list, iterations: int) -> None:
    print("| judge | set | language | n | accuracy | Cohen's kappa | Gwet's AC1 |")
    print("|---|---|---|---:|---|---|---|")
    for labelled in sets:
        for name, judge in judges.items():
            record = validate(judge, labelled, progress=False, iterations=iterations)
            rows = [("all", record)] + list(record["by_language"].items())
            for language, row in rows if len(record["by_language"]) > 1 else rows[:1]:
                m = row["metrics"]
                cells = " | ".join(_cell(m[k]) for k in ("accuracy", "cohen_kappa", "gwet_ac1"))
                print(f"| {name} | {labelled.name} | {language} | {row['n']} | {cells} |")


def throughput(judges: dict, items: list, repeat: int) -> None:
    print("\n| judge | verdicts | wall s (median) | verdicts/s | CPU s (median) | verdicts/CPU s |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, judge in judges.items():
        walls, cpus = [], []
        for _ in range(repeat):
            wall, cpu = time.perf_counter(), time.process_time()
            judge.judge(items)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        wall, cpu = statistics.median(walls), statistics.median(cpus)
        n = len(items)
        print(f"| {name} | {n} | {wall:.3f} | {n / wall:,.0f} | {cpu:.3f} | {n / cpu:,.0f} |")


def _cross_validated(items: list[LabelledItem], features: Features) -> dict[str, float]:
    """Accuracy of out-of-fold verdicts: GPTFuzz by question (4 folds), Latent Jailbreak by group cluster."""
    questions = sorted({e.item.question for e in items if e.source == "gptfuzz"})
    folds = [
        f"q{questions.index(e.item.question) % 4}"
        if e.source == "gptfuzz"
        else "g" + LJ_TRAIN_CLUSTERS.get(e.item.category, e.item.category)
        for e in items
    ]
    correct = np.zeros(len(items), dtype=bool)
    for fold in sorted(set(folds)):
        held = [i for i, f in enumerate(folds) if f == fold]
        model = train([e for e, f in zip(items, folds, strict=True) if f != fold], "cv", features)
        scores = model.scores([items[i].item for i in held])
        correct[held] = (scores > 0) == np.array([items[i].label == "harmful" for i in held])
    return _shares(items, correct)


def _shares(items: list[LabelledItem], correct: np.ndarray) -> dict[str, float]:
    def share(keep) -> float:
        return float(correct[[i for i, e in enumerate(items) if keep(e)]].mean())

    return {
        "GPTFuzz": share(lambda e: e.source == "gptfuzz"),
        "LJ": share(lambda e: e.source != "gptfuzz"),
        "LJ en": share(lambda e: e.source != "gptfuzz" and e.item.language == "en"),
        "LJ zh": share(lambda e: e.source != "gptfuzz" and e.item.language == "zh"),
    }


def tune(set_dir: str | None) -> None:
    items = training_items(set_dir, progress=False)
    keyword = get_judge("refusal").judge([e.item for e in items])
    correct = np.array([j.verdict == e.label for j, e in zip(keyword, items, strict=True)])
    print("\n| settings (changed from the chosen ones) | GPTFuzz | LJ | LJ en | LJ zh |")
    print("|---|---:|---:|---:|---:|")
    print(
        "| keyword judge `refusal` | "
        + " | ".join(f"{v:.4f}" for v in _shares(items, correct).values())
        + " |"
    )
    for change in NEIGHBOURS:
        figures = _cross_validated(items, dataclasses.replace(FEATURES, **change))
        label = ", ".join(f"{k}={v}" for k, v in change.items()) or "chosen"
        print(f"| {label} | " + " | ".join(f"{v:.4f}" for v in figures.values()) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--set-dir", default=os.environ.get(ROOT_ENV), help="local copies of the built-in sets"
    )
    parser.add_argument("--set", dest="extra", action="append", default=[], help="another labelled set")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tune", action="store_true", help="also repeat the cross-validated model selection")
    args = parser.parse_args()
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    sets = [load_set(spec, root=args.set_dir, progress=False) for spec in (*HELD_OUT, *args.extra)]
    with tempfile.TemporaryDirectory() as cache:
        offline = OfflineJudge(args.set_dir, cache_dir=Path(cache), progress=False)
        start = time.perf_counter()
        offline.trained  # noqa: B018  (trains in the empty cache)
        print(f"offline judge: trained in {time.perf_counter() - start:.1f} s (cold, 1 process)\n")
        judges = {"refusal": get_judge("refusal"), "offline": offline}
        agreement_table(judges, sets, args.bootstrap)
        throughput(judges, [e.item for e in sets[0].items], args.repeat)
    if args.tune:
        tune(args.set_dir)


if __name__ == "__main__":
    main()
