"""`resta tables`: the paper's tables (harmfulness, utility, β sweep) from a results store."""

from __future__ import annotations

import argparse
import sys

from resta_bench.benchmark.store import UTILITY_SCORES, ResultsStore
from resta_bench.benchmark.tables import (
    FORMATS,
    default_judge,
    load_systems,
    paper_tables,
    render,
    write_tables,
)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "tables",
        help="the paper's tables from a results store (md, latex or csv)",
        description="Harmfulness of each fine-tuned model before and after RESTA / RESTA+DARE per task "
        "and regime, utility before and after, and the beta sweep, with 95% intervals. The judge used is "
        "printed on stderr.",
    )
    parser.add_argument("results", help="results store folder")
    parser.add_argument("--format", choices=FORMATS, default="md", help="table format")
    parser.add_argument(
        "--judge",
        default=None,
        help="judge id (default: the judge that scored the most systems; on a tie, the first by name)",
    )
    parser.add_argument(
        "--out", default=None, help="write one file per table into this folder instead of printing them"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a non-empty --out; only a folder resta wrote is ever replaced",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    store = ResultsStore(args.results)
    judge_id = args.judge or _default_judge(store)
    tables = paper_tables(store, judge_id)
    if args.out is None:
        print(render(tables, args.format), end="")
        return 0
    inputs = {"RESULTS": args.results}
    for path in write_tables(tables, args.out, args.format, overwrite=args.overwrite, inputs=inputs):
        print(path)
    return 0


def _default_judge(store: ResultsStore) -> str:
    """``tables.default_judge``'s choice, said on stderr with how it was made."""
    systems = load_systems(store)
    judge_id = default_judge(systems)
    judged = {judge for system in systems for judge in system.scores} - {UTILITY_SCORES}
    counts = {judge: sum(judge in system.scores for system in systems) for judge in judged}
    tied = sorted(judge for judge, count in counts.items() if count == counts[judge_id] and judge != judge_id)
    tie = f", as did {', '.join(tied)}: the first by name" if tied else ""
    print(
        f"resta tables: judge {judge_id} (scored {counts[judge_id]} of {len(systems)} systems{tie}; "
        "--judge picks another)",
        file=sys.stderr,
    )
    return judge_id
