"""``resta validate-judge``: measure a judge against human-labelled responses and keep the record.

    resta validate-judge --judge offline                 # GPTFuzz evaluate + Latent Jailbreak test
    resta validate-judge --judge redeval --model gpt-4o --set gptfuzz:evaluate
    resta validate-judge --judge refusal --set my_labels.jsonl -o results

A set is ``gptfuzz[:train|evaluate]``, ``latent-jailbreak[:train|test|all]`` (downloaded once at pinned
commits, or read from --set-dir) or a ``.jsonl`` file of your own labelled responses: one object a line
with question, response, language, label (harmful | safe) and optionally votes, model, category, source.
Each set's record (accuracy, precision, recall, F1, Cohen's kappa, Gwet's AC1 with 95% bootstrap
intervals, confusion matrix, breakdowns by language, source, model and category) is written to
``<results>/_judges/<judge id>/<set>.json``; a table is printed. Verdicts are cached like ``resta judge``'s,
so validating a judge again asks it nothing twice.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

DEFAULT_SETS = ("gptfuzz:evaluate", "latent-jailbreak:test")


def register(subparsers: argparse._SubParsersAction) -> None:
    from resta_bench.benchmark.commands.judge import add_model_judge_options
    from resta_bench.judges import DEFAULT_JUDGE, judge_names

    parser = subparsers.add_parser(
        "validate-judge",
        help="measure a judge against human-labelled responses (accuracy, kappa, AC1 with intervals)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--judge",
        default=DEFAULT_JUDGE,
        help=f"a registered judge: {', '.join(judge_names())} (default: %(default)s)",
    )
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        metavar="SET",
        help=f"a labelled set, repeatable (default: {' and '.join(DEFAULT_SETS)})",
    )
    parser.add_argument(
        "--set-dir",
        help="local copies of the built-in sets (gptfuzz/*.csv, latent_jailbreak/*.jsonl), also the offline "
        "judge's training data (default $RESTA_JUDGE_VALIDATION_DIR, else downloaded at pinned commits)",
    )
    parser.add_argument("-o", "--results", default="results", help="results store folder (default: results)")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--json", action="store_true", help="print the records as JSON instead of tables")
    add_model_judge_options(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run_validate_judge)


def _judge_options(args: argparse.Namespace) -> dict[str, Any]:
    from resta_bench.benchmark.commands.judge import judge_options

    options = judge_options(args)
    if args.judge == "offline" and args.set_dir:
        options["data_dir"] = args.set_dir  # it trains on the same local copies
    return options


def run_validate_judge(args: argparse.Namespace) -> int:
    from resta_bench.benchmark.errors import ConfigError
    from resta_bench.judges import get_judge
    from resta_bench.judges.cache import JudgmentCache, default_cache_path
    from resta_bench.judges.validation import format_table, record_path, validate, write_record
    from resta_bench.judges.validation_sets import load_set
    from resta_bench.storage.schema import dump

    if args.bootstrap < 1:
        raise ConfigError(f"--bootstrap {args.bootstrap}: must be at least 1")
    judge = get_judge(args.judge, **_judge_options(args))
    # Every set is read (and checked) before the judge is asked anything.
    sets = [load_set(spec, root=args.set_dir, progress=not args.quiet) for spec in args.sets or DEFAULT_SETS]
    for labelled in sets:
        path = record_path(args.results, judge.id, labelled.name)  # names checked before any work
        existing = next(p for p in path.parents if p.exists())
        if not existing.is_dir():
            raise ConfigError(f"{existing}: not a folder (--results {args.results})")
    cache = None if args.no_cache else JudgmentCache(args.cache or default_cache_path())
    try:
        for labelled in sets:
            record = validate(
                judge,
                labelled,
                cache=cache,
                progress=not args.quiet,
                iterations=args.bootstrap,
                seed=args.seed,
            )
            path = write_record(args.results, record)
            text = (
                json.dumps(dump(record), indent=2, ensure_ascii=False) if args.json else format_table(record)
            )
            print(text)
            print(f"wrote {path}", file=sys.stderr)
            invalid_for = [
                lang for lang, row in record.by_language.items() if not row.judge_valid_for_language
            ]
            if invalid_for:
                print(
                    f"{path}: judge {judge.id!r} does not declare itself valid for {', '.join(invalid_for)}",
                    file=sys.stderr,
                )
    finally:
        if cache is not None:
            cache.close()
    return 0
