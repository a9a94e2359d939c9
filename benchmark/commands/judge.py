"""``resta judge`` and ``resta judge-agreement``: verdicts, scores and inter-judge agreement for run dirs."""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import sys
from typing import Any

from resta_bench.judges import DEFAULT_JUDGE, judge_names
from resta_bench.judges.cache import default_cache_path
from resta_bench.judges.options import OptionSpec, option_specs

# How a flag's text becomes the option's value; checking the value is the options' own job.
_FLAG_TYPES = {int: int, float: float, str: str, list: lambda text: [x for x in text.split(",") if x]}

JUDGE_DESCRIPTION = """\
Reads lm-eval output (a results store's system folder, or a bare lm-eval --output_path), judges the
answers to harmful questions and over-refusal prompts, and writes judgments/<judge id>.jsonl and
scores/<judge id>.json into each RUN_DIR. A bare folder holding several models' output has each model
judged apart, into its own folder. Every verdict is cached, so a killed run resumes where it stopped.

Prints, per RUN_DIR, the verdicts pooled over the harmful-question sets and XSTest's refusal rates of
safe and of unsafe prompts (never pooled with harmful questions)."""

AGREEMENT_DESCRIPTION = """\
Compares two judges' verdicts on the same responses: raw agreement, Cohen's kappa, Gwet's AC1 and the
confusion table, per language over the harmful-question sets pooled, and per benchmark. RUN_DIR is one
system's folder or a results store (every system in it). n counts the responses both judges gave harmful
or safe; those either called invalid are counted apart, as are those only one judge judged.

Scoring a system judged by two or more judges already stores their agreement (<system>/agreement.json
and the store's _agreement.json, which the leaderboard reads); --write writes them again, e.g. after
merging stores."""


def _help(spec: OptionSpec) -> str:
    """An option's help with its default; an unset option keeps the judge's own choice."""
    return spec.help if "default" in spec.help else f"{spec.help}; default: the judge's own"


def add_model_judge_options(parser: argparse.ArgumentParser) -> None:
    """One flag per model-judge option (``ModelOptions``) and the cache flags: what ``resta judge`` and
    ``resta validate-judge`` both take."""
    model = parser.add_argument_group("model judges")
    for spec in option_specs():
        # Unset flags stay None, so that each judge keeps its own defaults (a guard asks with temperature 0).
        metavar = spec.flag.removeprefix("--").replace("-", "_").upper()
        model.add_argument(
            spec.flag, dest=spec.name, metavar=metavar, type=_FLAG_TYPES[spec.kind], help=_help(spec)
        )
    cache = parser.add_argument_group("cache")
    where = (inspect.getdoc(default_cache_path) or "").replace("``", "").rstrip(".")
    cache.add_argument("--cache", help=f"judge cache database (default: {where})")
    cache.add_argument(
        "--no-cache", action="store_true", help="neither read nor write the cache (default: use it)"
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "judge",
        help="judge lm-eval safety samples and write judgments and scores",
        description=JUDGE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "run_dirs", nargs="+", metavar="RUN_DIR", help="system folder or lm-eval output folder"
    )
    parser.add_argument(
        "--judge",
        "--judge",
        default=DEFAULT_JUDGE,
        help=f"a registered judge: {', '.join(judge_names())} (default: %(default)s)",
    )
    add_model_judge_options(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar (default: show one)")
    parser.set_defaults(func=run_judge)

    agreement = subparsers.add_parser(
        "judge-agreement",
        help="agreement of two judges on the same responses (raw, confusion, Cohen's kappa, Gwet's AC1)",
        description=AGREEMENT_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    agreement.add_argument("run_dir", metavar="RUN_DIR", help="one system's folder, or a results store")
    agreement.add_argument(
        "--judges", required=True, help="two judge ids, comma-separated: A,B (required, no default)"
    )
    agreement.add_argument(
        "--json", action="store_true", help="print JSON instead of a table (default: a table)"
    )
    agreement.add_argument(
        "--write",
        action="store_true",
        help="on a results store, also write every system's agreement.json and the store's _agreement.json "
        "again, which the leaderboard's judges panel reads (default: only print)",
    )
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
            for summary in judge_run_dir(run_dir, judge, cache=cache, progress=not args.quiet):
                print(summary.describe())
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
    from resta_bench.benchmark.agreement import judges_agreement, refresh_agreement
    from resta_bench.benchmark.errors import ConfigError
    from resta_bench.benchmark.store import ResultsStore
    from resta_bench.storage.names import check_name

    names = [check_name(name.strip(), "--judges") for name in args.judges.split(",") if name.strip()]
    if len(names) != 2:
        raise ConfigError(f"--judges {args.judges!r}: name exactly two judge ids, e.g. refusal,redeval-gpt-4")
    report = judges_agreement(args.run_dir, names[0], names[1])
    if args.write:
        if "systems" not in report:
            raise ConfigError(f"--write: {args.run_dir} is one system's folder; name the results store")
        print(f"written: {refresh_agreement(ResultsStore(args.run_dir))}", file=sys.stderr)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    systems = f"; {len(report['systems'])} systems of the store" if "systems" in report else ""
    print(f"A = {names[0]}, B = {names[1]}{systems}")
    counts = report["counts"]
    print(
        f"{counts['both_judged']} responses judged by both ({counts['only_a']} by A only, "
        f"{counts['only_b']} by B only); n: those both gave harmful or safe"
    )
    for title, column, rows in (
        ("harmful-question sets, pooled", "language", report["by_language"]),
        ("each benchmark on its own", "benchmark", report["by_benchmark"]),
    ):
        print(
            f"\n{title}\n{column:<14}{'n':>7}{'invalid':>9}{'raw':>8}{'kappa':>8}{'AC1':>8}   confusion (A|B)"
        )
        for name, row in rows.items():
            rates = "".join(f"{_fmt(row[k]):>8}" for k in ("raw_agreement", "cohen_kappa", "gwet_ac1"))
            confusion = " ".join(f"{k}={v}" for k, v in row["confusion"].items())
            print(f"{name:<14}{row['n']:>7}{row['excluded_invalid']:>9}{rates}   {confusion}")
    return 0


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
