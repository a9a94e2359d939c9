"""`resta compare`: paired difference of two systems' rates, with bootstrap CI and McNemar p."""

from __future__ import annotations

import argparse

from resta_bench.benchmark.tables import FORMATS


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="paired comparison of two systems on the same prompts",
        description="Pairs the two systems' verdicts by (task, doc_id) and prints, overall, per language "
        "and per benchmark x language: both harmful rates, the difference B - A with a paired bootstrap "
        "95% interval, and the exact McNemar p-value. Overall and per-language rates pool the "
        "harmful-question sets only; XSTest's refusal rates of safe and of unsafe prompts get a table of "
        "their own. A system is its name in the experiment file or its id (`resta ls RESULTS` lists both).",
    )
    parser.add_argument("results", help="results store folder")
    parser.add_argument(
        "--a", required=True, dest="system_a", metavar="SYS", help="name or id of system A (before)"
    )
    parser.add_argument(
        "--b", required=True, dest="system_b", metavar="SYS", help="name or id of system B (after)"
    )
    parser.add_argument("--judge", default=None, help="judge id (default: the only one both systems have)")
    parser.add_argument("--format", choices=FORMATS, default="md", help="table format")
    parser.add_argument("--iterations", type=int, default=10_000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from resta_bench.benchmark.compare import compare_systems
    from resta_bench.benchmark.store import ResultsStore
    from resta_bench.benchmark.tables import render

    store = ResultsStore(args.results)
    system_a, system_b = store.resolve(args.system_a, "--a"), store.resolve(args.system_b, "--b")
    judge_id, rows = compare_systems(
        store, system_a, system_b, judge_id=args.judge, iterations=args.iterations, seed=args.seed
    )
    names = store.names()
    shown_a, shown_b = (f"{names[s]} ({s})" if names[s] else s for s in (system_a, system_b))
    # Harmful rates pool the harmful-question sets; XSTest's refusal rates are in a table of their own.
    harmful = [row for row in rows if row.metric == "harmful"]
    own = [row for row in rows if row.metric != "harmful"]
    title = f"{shown_b} - {shown_a}"
    tables = [_table("compare", f"{title}, harmful rate (%) judged by {judge_id}", harmful, metric=False)]
    if own:
        tables.append(_table("compare_own", f"{title}, each benchmark's own rates (%)", own, metric=True))
    print(render(tables, args.format), end="")
    return 0


def _table(key: str, title: str, rows: list, *, metric: bool):
    from resta_bench.benchmark.tables import Cell, Table

    columns = ["n", "invalid", "A", "B", "B - A", "A only", "B only", "McNemar p"]
    table = Table(key, title, ["Benchmark", "Language", *(["Metric"] if metric else []), *columns])
    for row in rows:
        counted = row.n > 0  # a group with no valid pair has no rates: shown as "–", never as 0 %
        table.rows.append(
            [
                row.benchmark,
                row.language,
                *([row.metric] if metric else []),
                str(row.n),
                str(row.invalid),
                Cell(row.rate_a) if counted else None,
                Cell(row.rate_b) if counted else None,
                Cell(row.difference, row.ci_low, row.ci_high) if counted else None,
                str(row.only_a),
                str(row.only_b),
                None if row.p_value is None else f"{row.p_value:.3g}",  # none without pairs or with samples
            ]
        )
    return table
