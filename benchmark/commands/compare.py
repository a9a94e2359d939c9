"""`resta compare`: paired difference of two systems' harmful rates, with bootstrap CI and McNemar p."""

from __future__ import annotations

import argparse

from resta_bench.benchmark.tables import FORMATS


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="paired comparison of two systems on the same prompts",
        description="Pairs the two systems' verdicts by (task, doc_id) and prints, overall, per language "
        "and per benchmark x language: both harmful rates, the difference B - A with a paired bootstrap "
        "95%% interval, and the exact McNemar p-value.",
    )
    parser.add_argument("results", help="results store folder")
    parser.add_argument("--a", required=True, dest="system_a", metavar="SYS", help="system id of A (before)")
    parser.add_argument("--b", required=True, dest="system_b", metavar="SYS", help="system id of B (after)")
    parser.add_argument("--judge", default=None, help="judge id (default: the only one both systems have)")
    parser.add_argument("--format", choices=FORMATS, default="md")
    parser.add_argument("--iterations", type=int, default=10_000, help="bootstrap resamples (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from resta_bench.benchmark.compare import compare_systems
    from resta_bench.benchmark.store import ResultsStore
    from resta_bench.benchmark.tables import Cell, Table, render

    judge_id, rows = compare_systems(
        ResultsStore(args.results),
        args.system_a,
        args.system_b,
        judge_id=args.judge,
        iterations=args.iterations,
        seed=args.seed,
    )
    table = Table(
        "compare",
        f"{args.system_b} - {args.system_a}, harmful rate (%) judged by {judge_id}",
        ["Benchmark", "Language", "n", "invalid", "A", "B", "B - A", "A only", "B only", "McNemar p"],
    )
    for row in rows:
        counted = row.n > 0  # a group with no valid pair has no rates: shown as "–", never as 0 %
        table.rows.append(
            [
                row.benchmark,
                row.language,
                str(row.n),
                str(row.invalid),
                Cell(row.rate_a) if counted else None,
                Cell(row.rate_b) if counted else None,
                Cell(row.difference, row.ci_low, row.ci_high) if counted else None,
                str(row.only_a),
                str(row.only_b),
                f"{row.p_value:.3g}" if counted else None,
            ]
        )
    print(render([table], args.format), end="")
    return 0
