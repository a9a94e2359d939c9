"""`resta tables`: the paper's tables (harmfulness, utility, β sweep) from a results store."""

from __future__ import annotations

import argparse

from resta_bench.benchmark.tables import FORMATS


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "tables",
        help="the paper's tables from a results store (md, latex or csv)",
        description="Harmfulness of each fine-tuned model before and after RESTA / RESTA+DARE per task "
        "and regime, utility before and after, and the beta sweep, with 95%% intervals.",
    )
    parser.add_argument("results", help="results store folder")
    parser.add_argument("--format", choices=FORMATS, default="md")
    parser.add_argument("--judge", default=None, help="judge id (default: the one that scored most systems)")
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
    from resta_bench.benchmark.store import ResultsStore
    from resta_bench.benchmark.tables import paper_tables, render, write_tables

    tables = paper_tables(ResultsStore(args.results), args.judge)
    if args.out is None:
        print(render(tables, args.format), end="")
        return 0
    inputs = {"RESULTS": args.results}
    for path in write_tables(tables, args.out, args.format, overwrite=args.overwrite, inputs=inputs):
        print(path)
    return 0
