"""`resta ls RESULTS`: every system of a results store with its name, id, role, method and parameters,
the suites generated and the judges that scored it."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "ls",
        help="list a results store's systems: name, id, role, method, parameters, suites, judges",
        description="One line per system of a results store: its name in the experiment file, its id (the "
        "folder), role, method and parameters, the suites generated and the judges that scored it. Every "
        "command that takes a system id (compare --a/--b) takes its name too.",
    )
    parser.add_argument("results", metavar="RESULTS", help="results store folder")
    parser.add_argument("--json", action="store_true", help="print the systems as a JSON list instead")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from resta_bench.benchmark.listing import as_records, render_listing, summarize
    from resta_bench.benchmark.store import ResultsStore

    summaries = summarize(ResultsStore(args.results))
    if args.json:
        print(json.dumps(as_records(summaries), indent=2, ensure_ascii=False))
    else:
        print(render_listing(summaries), end="")
    return 0
