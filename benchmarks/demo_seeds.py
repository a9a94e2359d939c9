"""The offline demo over several seeds: per system, the mean, the range and a 95% interval of the mean.

    python benchmarks/demo_seeds.py                   # --seeds 0-4 --out demo-seeds [--quick] [--jobs 1]

One seed's figures say little about a model this small: a seed changes the initial weights, the data
order and DARE's masks, and the fine-tunes land elsewhere. Each seed here is its own ``resta demo --seed
S`` process (so the demo picks its CPU kernels as it does for a user) into ``OUT/seed-S``; ``--reuse``
keeps a seed whose folder already holds a finished demo. The table gives, per system and figure, the
mean over seeds, its range (min–max) and a 95% t-interval of the mean.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

FIGURES = (
    ("harmful", lambda row: row.harmful["all"]),
    ("harmful en", lambda row: row.harmful["en"]),
    ("harmful zh", lambda row: row.harmful["zh"]),
    ("harmful vi", lambda row: row.harmful["vi"]),
    ("utility", lambda row: row.utility),
    ("over-refusal", lambda row: row.over_refusal),
)


def parse_seeds(text: str) -> list[int]:
    """``0-4`` or ``0,2,5``."""
    if "-" in text:
        first, last = (int(part) for part in text.split("-", 1))
        return list(range(first, last + 1))
    return [int(part) for part in text.split(",")]


def run_seed(out: Path, seed: int, quick: bool, reuse: bool) -> float:
    """``resta demo --seed SEED`` into ``out``; its wall seconds (0 when a finished one was kept)."""
    if reuse and (out / "tables.md").is_file():
        return 0.0
    command = [
        sys.executable,
        "-m",
        "resta_bench.benchmark.cli",
        "demo",
        "--seed",
        str(seed),
        "--out",
        str(out),
    ]
    started = time.monotonic()
    subprocess.run(
        [*command, "--overwrite", *(["--quick"] if quick else [])],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.monotonic() - started


def summarise(values: list[float]) -> str:
    """``mean (min–max) [95% interval of the mean]`` in percent."""
    mean = statistics.fmean(values)
    text = f"{100 * mean:.0f}% ({100 * min(values):.0f}–{100 * max(values):.0f})"
    if len(values) < 2:
        return text
    from scipy.stats import t

    half = t.ppf(0.975, len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return f"{text} [{100 * max(0.0, mean - half):.0f}, {100 * min(1.0, mean + half):.0f}]"


def table(rows_by_seed: dict[int, list]) -> str:
    names = list(dict.fromkeys(row.name for rows in rows_by_seed.values() for row in rows))
    lines = [
        "| system | " + " | ".join(name for name, _ in FIGURES) + " |",
        "|---" + "|---:" * len(FIGURES) + "|",
    ]
    for name in names:
        rows = [row for rows in rows_by_seed.values() for row in rows if row.name == name]
        cells = []
        for _, figure in FIGURES:
            values = [value for value in map(figure, rows) if value is not None]
            cells.append(summarise(values) if values else "—")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", default="0-4", help="seeds, as 0-4 or 0,2,5 (default: 0-4)")
    parser.add_argument("--out", default="demo-seeds", help="one demo folder per seed in here")
    parser.add_argument("--quick", action="store_true", help="the demo's shorter grid (the test's size)")
    parser.add_argument("--jobs", type=int, default=1, help="demos at once (default 1)")
    parser.add_argument("--reuse", action="store_true", help="keep a seed whose demo already finished")
    args = parser.parse_args()

    from importlib.metadata import version

    from resta_bench.benchmark.demo.summary import summary_rows
    from resta_bench.benchmark.store import ResultsStore

    seeds, out = parse_seeds(args.seeds), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        seconds = dict(
            zip(
                seeds,
                pool.map(lambda s: run_seed(out / f"seed-{s}", s, args.quick, args.reuse), seeds),
                strict=True,
            )
        )
    rows_by_seed = {seed: summary_rows(ResultsStore(out / f"seed-{seed}" / "results")) for seed in seeds}
    packages = ", ".join(
        f"{name} {version(name)}" for name in ("torch", "transformers", "lm-eval", "tokenizers")
    )
    print(
        f"Seeds {args.seeds} ({'quick' if args.quick else 'full'} demo); {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; {packages}"
    )
    print("Wall seconds per seed: " + ", ".join(f"{seed}: {value:.0f}" for seed, value in seconds.items()))
    print()
    print(table(rows_by_seed))
    print()
    print("mean over seeds (min–max) [95% t-interval of the mean]; harmful: CatQA-format questions answered")
    print("without a refusal (keyword judge); utility: exact match on held-out last-word questions.")


if __name__ == "__main__":
    main()
