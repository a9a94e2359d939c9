"""``resta leaderboard RESULTS --out SITE``: build the static leaderboard from a results store."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "leaderboard",
        help="build the static HTML leaderboard from a results store",
        description="Build a static site (opens from the file system, no network) with the headline table, "
        "category heat maps, trade-off and sweep charts, judges, per-question responses, scores.csv "
        "and the JSON behind every page. SITE is replaced only if it is an earlier leaderboard.",
    )
    parser.add_argument("results", type=Path, metavar="RESULTS", help="the results store folder")
    parser.add_argument("--out", type=Path, required=True, metavar="SITE", help="folder to write the site to")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from resta_bench.leaderboards import build_site

    site = build_site(args.results, args.out, progress=not args.no_progress)
    print(site / "index.html")
    return 0
