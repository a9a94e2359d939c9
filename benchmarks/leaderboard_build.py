"""Regenerating the leaderboard of a 200-system results store: `build_site` against a naive peer.

The peer is what a quick script would do: for every page, re-read the store files it needs (the
index re-reads every system; each system page re-reads all ``system.json`` files to name its SFT
and aligned models) and render the tables with pandas ``DataFrame.to_html``. Both write the same
kinds of pages (index, one page per system, one response page per system). The store is written
once, with the test helper, before either is timed; each builder runs ``--repeat`` times, alternating,
and the median is reported. Ratios, not absolute times, are the figure to compare: the machine is shared.

    python benchmarks/leaderboard_build.py [--systems 200] [--questions 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "leaderboards"))
from leaderboard_store_factory import StoreSpec, write_store  # noqa: E402
from resta_bench.leaderboards import build_site  # noqa: E402


def naive_site(results: Path, out: Path) -> None:
    """The peer: per-page re-reads of the store and pandas ``to_html`` tables."""
    if out.exists():
        shutil.rmtree(out)
    (out / "systems").mkdir(parents=True)
    (out / "responses").mkdir()
    folders = sorted(p for p in results.iterdir() if (p / "system.json").is_file())

    def scores(folder: Path) -> pd.DataFrame:
        frames = [
            pd.DataFrame(json.loads(path.read_text())["rows"]).assign(judge=path.stem)
            for path in sorted((folder / "scores").glob("*.json"))
        ]
        return pd.concat(frames, ignore_index=True)

    overall = []
    for folder in folders:
        meta = json.loads((folder / "system.json").read_text())
        table = scores(folder)
        table = table[(table["category"] == "all") & (table["subcategory"] == "all")]
        overall.append(table.assign(system=meta["label"]))
    headline = pd.concat(overall).pivot_table(
        index=["system", "judge"], columns=["benchmark", "language", "metric"], values="value"
    )
    (out / "index.html").write_text(f"<html><body>{headline.to_html()}</body></html>")

    for folder in folders:
        labels = {p.name: json.loads((p / "system.json").read_text())["label"] for p in folders}
        meta = json.loads((folder / "system.json").read_text())
        table = scores(folder)
        catqa = table[(table["benchmark"] == "catqa") & (table["metric"] == "harmful")]
        heat = catqa.pivot_table(
            index=["judge", "category", "subcategory"], columns="language", values="value"
        )
        header = (
            f"<h1>{labels[meta['system_id']]}</h1><p>SFT: {labels.get(meta['sft_system'] or '', '-')}</p>"
        )
        (out / "systems" / f"{folder.name}.html").write_text(
            f"<html><body>{header}{table.to_html()}{heat.to_html()}</body></html>"
        )
        lines = [
            pd.read_json(path, lines=True).assign(judge=path.stem)
            for path in sorted((folder / "judgments").glob("*.jsonl"))
        ]
        responses = pd.concat(lines, ignore_index=True)
        columns = ["task", "doc_id", "language", "category", "question", "response", "judge", "verdict"]
        (out / "responses" / f"{folder.name}.html").write_text(
            f"<html><body>{responses[columns].to_html()}</body></html>"
        )


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (build_site's worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(build, results: Path, out: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one build."""
    wall, cpu = time.perf_counter(), _cpu_seconds()
    build(results, out)
    return time.perf_counter() - wall, _cpu_seconds() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", type=int, default=200)
    parser.add_argument(
        "--questions", type=int, default=10, help="CatQA questions per sub-category (paper: 10)"
    )
    parser.add_argument("--response-chars", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help="build_site's worker processes")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="lb-bench-") as tmp:
        results = Path(tmp) / "results"
        spec = StoreSpec(
            base_models=("llama-2-7b-chat", "mistral-7b-instruct"),
            tasks=("code", "math", "chinese", "english", "hindi"),
            betas=(0.25, 0.5, 0.75, 1.0, 1.5),
            dare_ps=(0.1, 0.3, 0.5, 0.7),
            questions_per_subcategory=args.questions,
            response_chars=args.response_chars,
            limit=args.systems,
        )
        start = time.perf_counter()
        write_store(results, spec)
        store_bytes = sum(p.stat().st_size for p in results.rglob("*") if p.is_file())
        lines = sum(1 for _ in results.glob("*/judgments/*.jsonl") for _ in _.open())
        print(
            f"store: {len(spec.written)} systems, {lines} judgment lines, {store_bytes / 2**20:.0f} MiB, "
            f"written in {time.perf_counter() - start:.1f} s",
            file=sys.stderr,
        )

        ours, peer = [], []
        for _ in range(args.repeat):
            ours.append(
                timed(
                    lambda r, o: build_site(r, o, workers=args.workers, progress=False),
                    results,
                    Path(tmp) / "site",
                )
            )
            peer.append(timed(naive_site, results, Path(tmp) / "naive"))
        site_bytes = sum(p.stat().st_size for p in (Path(tmp) / "site").rglob("*") if p.is_file())

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
        f"Python {platform.python_version()}; site: {site_bytes / 2**20:.0f} MiB"
    )
    print(f"| builder | wall s, median of {args.repeat} | CPU s, median | wall ratio | CPU ratio |")
    print("|---|---|---|---|---|")
    for name, runs in (
        ("`leaderboards.build_site`", ours),
        ("naive: per-page re-read + pandas `to_html`", peer),
    ):
        wall, cpu = (statistics.median(run[i] for run in runs) for i in (0, 1))
        base_wall, base_cpu = (statistics.median(run[i] for run in ours) for i in (0, 1))
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {wall / base_wall:.2f} | {cpu / base_cpu:.2f} |")


if __name__ == "__main__":
    main()
