"""The runner's cost over plain lm-eval, and our paired statistics against SciPy's, in one run.

    python benchmarks/runner_vs_lm_eval.py            # --docs 10 --tokens 16 --repeat 3

1. One tiny model, three CatQA tasks (a CatQA-format folder written here), ``--docs`` documents each:
   *ours* is ``benchmark.runner.run_experiment`` (generate with lm-eval in-process, judge with the keyword
   judge, score, write system.json); *peer* is ``lm_eval.simple_evaluate`` plus its ``EvaluationTracker``
   writing the same samples, which is what a user of lm-eval alone would run. Then both again on the same
   output: ours finds everything done, lm-eval starts over.
2. The paired bootstrap interval of a difference (CatQA size: 1,650 pairs, 10,000 resamples) against
   ``scipy.stats.bootstrap(paired=True, method="percentile")``, and 2,000 exact McNemar tests against
   ``scipy.stats.binomtest``.

Times are medians of ``--repeat`` alternating runs; the last column is the peer's time over ours.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TASKS = ["catqa_en_illegal_activity", "catqa_zh_illegal_activity", "catqa_vi_illegal_activity"]
FILES = {"en": "catqa_english.json", "zh": "catqa_chinese.json", "vi": "catqa_vietnamese.json"}


def _setup(root: Path, docs: int) -> tuple[Path, Path]:
    from resta_bench.benchmark.tiny_models import build_tiny_chat_model

    model = build_tiny_chat_model(root / "model", seed=0)
    data = root / "catqa"
    data.mkdir()
    for language, name in FILES.items():
        rows = [
            {"Category": "Illegal Activity", "Subcategory": "Drug", "Question": f"question {i} ({language})"}
            for i in range(docs)
        ]
        (data / name).write_text("".join(json.dumps(row) + "\n" for row in rows))
    return model, data


def _experiment(model: Path, data: Path, docs: int, tokens: int):
    from resta_bench.benchmark.config import parse_experiment

    return parse_experiment(
        {
            "name": "bench",
            "data": {"catqa_dir": str(data)},
            "backend": {"type": "hf", "device": "cpu", "batch_size": 8},
            "systems": [{"name": "tiny", "role": "aligned", "model": str(model)}],
            "suites": [{"name": "safety", "tasks": TASKS, "limit": docs, "max_gen_toks": tokens}],
            "judges": [{"name": "refusal"}],
        }
    )


def _ours(experiment, results: Path) -> float:
    from resta_bench.benchmark.runner import run_experiment

    started = time.perf_counter()
    run_experiment(experiment, results, device="cpu")
    return time.perf_counter() - started


def _peer(model: Path, data: Path, out: Path, docs: int, tokens: int, task_manager) -> float:
    import lm_eval
    from lm_eval.loggers import EvaluationTracker

    started = time.perf_counter()
    tracker = EvaluationTracker(output_path=str(out))
    results = lm_eval.simple_evaluate(
        model="hf",
        model_args={"pretrained": str(model)},
        tasks=TASKS,
        batch_size=8,
        device="cpu",
        limit=docs,
        log_samples=True,
        evaluation_tracker=tracker,
        apply_chat_template=True,
        gen_kwargs={"do_sample": False, "max_gen_toks": tokens},
        task_manager=task_manager,
        metadata={"catqa_dir": str(data)},
    )
    samples = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=samples)
    for task in results["configs"]:
        tracker.save_results_samples(task_name=task, samples=samples[task])
    return time.perf_counter() - started


def _stats(repeat: int) -> list[tuple[str, float, float]]:
    import numpy as np
    from resta_bench.benchmark.stats import mcnemar_exact, paired_bootstrap_difference
    from scipy import stats as scipy_stats

    rng = np.random.default_rng(0)
    a = (rng.random(1650) < 0.19).astype(float)
    b = np.where(rng.random(1650) < 0.7, 0.0, a)
    tables = [(int(x), int(y)) for x, y in rng.integers(0, 300, size=(2000, 2))]
    rows = []
    for name, ours, peer in [
        (
            "paired bootstrap, 1,650 pairs x 10,000",
            lambda: paired_bootstrap_difference(a, b, iterations=10_000),
            lambda: scipy_stats.bootstrap(
                (a, b),
                lambda x, y: np.mean(y - x),
                paired=True,
                n_resamples=10_000,
                method="percentile",
                vectorized=False,
                random_state=0,
            ),
        ),
        (
            "exact McNemar, 2,000 tables",
            lambda: [mcnemar_exact(x, y) for x, y in tables],
            lambda: [scipy_stats.binomtest(x, x + y, 0.5).pvalue for x, y in tables if x + y],
        ),
    ]:
        ours_times, peer_times = [], []
        for _ in range(repeat):
            for work, times in ((ours, ours_times), (peer, peer_times)):
                started = time.perf_counter()
                work()
                times.append(time.perf_counter() - started)
        rows.append((name, statistics.median(ours_times), statistics.median(peer_times)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=10, help="documents per task")
    parser.add_argument("--tokens", type=int, default=16, help="max_gen_toks")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from resta_bench.tasks import task_manager

    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        os.environ["RESTA_JUDGE_CACHE"] = str(root / "judges.sqlite")
        model, data = _setup(root, args.docs)
        experiment = _experiment(model, data, args.docs, args.tokens)
        manager = task_manager({"catqa_dir": str(data)})
        # Warm-up, untimed: imports, task index, first model load.
        _ours(experiment, root / "warm")
        _peer(model, data, root / "warm-peer", args.docs, args.tokens, manager)
        first, again = {"ours": [], "peer": []}, {"ours": [], "peer": []}
        for run in range(args.repeat):
            first["ours"].append(_ours(experiment, root / f"ours{run}"))
            first["peer"].append(_peer(model, data, root / f"peer{run}", args.docs, args.tokens, manager))
            again["ours"].append(_ours(experiment, root / f"ours{run}"))
            again["peer"].append(_peer(model, data, root / f"peer{run}", args.docs, args.tokens, manager))
        rows = [
            (
                f"first run: {len(TASKS)} tasks x {args.docs} docs, {args.tokens} tokens",
                statistics.median(first["ours"]),
                statistics.median(first["peer"]),
            ),
            (
                "second run on the same output",
                statistics.median(again["ours"]),
                statistics.median(again["peer"]),
            ),
        ]
    rows += _stats(args.repeat)

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print("| work | ours (s) | peer (s) | peer / ours |")
    print("|---|---:|---:|---:|")
    for name, ours, peer in rows:
        print(f"| {name} | {ours:.3f} | {peer:.3f} | {peer / ours:.2f}x |")


if __name__ == "__main__":
    main()
