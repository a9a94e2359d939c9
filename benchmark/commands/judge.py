"""``resta judge`` and ``resta judge-agreement``: verdicts, scores and inter-judge agreement for run dirs.

``resta judge RUN_DIR... --judge NAME`` reads lm-eval output (a system folder's ``lm_eval/`` tree or a
bare ``--output_path``), writes ``judgments/<judge_id>.jsonl`` and ``scores/<judge_id>.json`` into
each RUN_DIR, and caches every verdict so that a killed run resumes where it stopped.

``resta judge-agreement RUN_DIR --judges A,B`` compares two judges' verdicts on the same responses.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from resta_bench.judges.options import option_specs

# How a flag's text becomes the option's value; checking the value is the options' own job.
_FLAG_TYPES = {int: int, float: float, str: str, list: lambda text: [x for x in text.split(",") if x]}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "judge",
        help="judge lm-eval safety samples and write judgments and scores",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "run_dirs", nargs="+", metavar="RUN_DIR", help="system folder or lm-eval output folder"
    )
    parser.add_argument(
        "--judge", default="refusal", help="refusal (default), redeval, chat, llama-guard-3, harmbench"
    )
    model = parser.add_argument_group("model judges")
    for spec in option_specs():
        # Unset flags stay None, so that each judge keeps its own defaults (a guard asks with temperature 0).
        metavar = spec.flag.removeprefix("--").replace("-", "_").upper()
        model.add_argument(
            spec.flag, dest=spec.name, metavar=metavar, type=_FLAG_TYPES[spec.kind], help=spec.help
        )
    cache = parser.add_argument_group("cache")
    cache.add_argument(
        "--cache", help="judge cache database (default $RESTA_JUDGE_CACHE or ~/.cache/resta-bench)"
    )
    cache.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run_judge)

    agreement = subparsers.add_parser(
        "judge-agreement",
        help="agreement of two judges on the same responses (raw, confusion, Cohen's kappa, Gwet's AC1)",
    )
    agreement.add_argument("run_dir", metavar="RUN_DIR")
    agreement.add_argument("--judges", required=True, help="two judge ids, comma-separated: A,B")
    agreement.add_argument("--json", action="store_true", help="print JSON instead of a table")
    agreement.set_defaults(func=run_agreement)


def judge_options(args: argparse.Namespace) -> dict[str, Any]:
    """The judge options the user set (unset flags keep each judge's own defaults)."""
    names = (spec.name for spec in option_specs())
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def run_judge(args: argparse.Namespace) -> int:
    from resta_bench.benchmark.judging import judge_run_dir
    from resta_bench.judges import get_judge
    from resta_bench.judges.cache import JudgmentCache, default_cache_path

    if not args.verbose:
        # The HTTP client logs every request at INFO; the progress bar says enough.
        for name in ("httpx", "httpx2"):
            logging.getLogger(name).setLevel(logging.WARNING)
    judge = get_judge(args.judge, **judge_options(args))
    cache = None if args.no_cache else JudgmentCache(args.cache or default_cache_path())
    try:
        for run_dir in args.run_dirs:
            summary = judge_run_dir(run_dir, judge, cache=cache, progress=not args.quiet)
            counts = ", ".join(f"{verdict} {n}" for verdict, n in sorted(summary.verdicts.items()))
            print(f"{summary.judgments_path}: {counts}")
            if summary.invalid_languages:
                print(
                    f"{summary.scores_path}: judge {judge.id!r} is not valid for "
                    f"{', '.join(summary.invalid_languages)}; rows marked language_valid=false",
                    file=sys.stderr,
                )
    finally:
        if cache is not None:
            cache.close()
    return 0


def run_agreement(args: argparse.Namespace) -> int:
    from resta_bench.benchmark.errors import ConfigError
    from resta_bench.benchmark.judging import judges_agreement
    from resta_bench.storage.names import check_name

    names = [check_name(name.strip(), "--judges") for name in args.judges.split(",") if name.strip()]
    if len(names) != 2:
        raise ConfigError(f"--judges {args.judges!r}: name exactly two judge ids, e.g. refusal,redeval-gpt-4")
    report = judges_agreement(args.run_dir, names[0], names[1])
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    header = f"{'language':<10}{'n':>7}{'invalid':>9}{'raw':>8}{'kappa':>8}{'AC1':>8}   confusion (A|B)"
    print(f"A = {names[0]}, B = {names[1]}")
    print(header)
    for language, row in report["by_language"].items():
        rates = "".join(f"{_fmt(row[k]):>8}" for k in ("raw_agreement", "cohen_kappa", "gwet_ac1"))
        confusion = " ".join(f"{k}={v}" for k, v in row["confusion"].items())
        print(f"{language:<10}{row['n']:>7}{row['excluded_invalid']:>9}{rates}   {confusion}")
    return 0


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
