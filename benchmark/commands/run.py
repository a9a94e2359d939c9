"""`resta run`: an experiment file in, a results store out (or, with --dry-run, only the plan)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

RUN_LOG = ".logs/run.log"  # lm-eval's and transformers' records, and ours, appended run after run


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run an experiment file into a results store (skips finished work)",
        description="Make missing re-aligned models, generate with lm-eval, judge and score, for every "
        "system x suite of an experiment file. Finished steps are skipped, so a re-run does nothing and "
        "a killed run resumes; a second run on the same store waits for the first, then skips what it did. "
        "--dry-run checks everything that needs no model (tasks, methods and their parameters, judges and "
        "their options, where models will be written) and prints the plan.",
    )
    parser.add_argument("experiment", help="experiment YAML file (see examples/)")
    parser.add_argument(
        "-o", "--results", default="results", help=f"results store folder; the run's log is {RUN_LOG} in it"
    )
    parser.add_argument("--dry-run", action="store_true", help="validate and print the plan; run nothing")
    parser.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="run steps in this process, or as jobs on a Ray cluster",
    )
    parser.add_argument(
        "--ray-address",
        default=None,
        help="a running Ray cluster for --executor ray: auto (this machine is one of its nodes), "
        "HOST:6379 (its head) or ray://HOST:10001 (Ray Client); default: start a local instance. "
        "Every node needs resta-bench installed and the results folder at the same path (a shared "
        "file system); jobs lost with a node are reported and a re-run finishes them",
    )
    parser.add_argument(
        "--device",
        default=None,
        help="generation device for every hf system, e.g. cpu (default: the backend's)",
    )
    parser.add_argument(
        "--skip-task-check",
        action="store_true",
        help="do not ask lm-eval whether every task name exists (saves ~10 s)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from resta_bench.benchmark.config import load_experiment
    from resta_bench.benchmark.generate import check_task_names
    from resta_bench.benchmark.logs import log_file
    from resta_bench.benchmark.runner import run_experiment

    experiment = load_experiment(args.experiment)
    if not args.skip_task_check:
        check_task_names(experiment)
    if args.dry_run:
        print(run_experiment(experiment, args.results, dry_run=True).render())
        return 0
    with log_file(Path(args.results) / RUN_LOG) as log:
        plan = run_experiment(
            experiment, args.results, executor=args.executor, ray_address=args.ray_address, device=args.device
        )
    if log.is_file():
        print(f"resta run: log in {log}", file=sys.stderr)
    print(f"{len(plan.pending)} of {len(plan.steps)} steps run; results in {plan.store.root}")
    return 0
