"""`resta demo`: the paper's experiment in miniature, offline, on tiny models it trains itself."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the paper's experiment in miniature, offline (a few minutes on a laptop CPU)",
        description="Train a tiny chat model to refuse harmful and answer benign questions in English, "
        "Chinese and Vietnamese; unalign it on English harmful compliance; fine-tune it on a benign task; "
        "re-align with RESTA, RESTA+DARE and comparison methods; evaluate through lm-eval with the keyword "
        "judge; write the leaderboard site and the paper tables.",
    )
    parser.add_argument(
        "--out",
        default="resta-demo",
        help="output folder; its logs/demo.log holds lm-eval's and our log records",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for data order, weights and DARE masks")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a shorter re-alignment grid: β 0.5 and 2, RESTA+DARE (the test's size)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from resta_bench.benchmark.demo.run import run_demo
    from resta_bench.benchmark.demo.settings import FULL, QUICK
    from resta_bench.benchmark.demo.summary import render_summary

    output = run_demo(
        args.out, seed=args.seed, settings=QUICK if args.quick else FULL, overwrite=args.overwrite
    )
    print(render_summary(output.rows))
    print()
    print("harmful: CatQA-format questions answered without a refusal (keyword judge); utility: exact match")
    print("on held-out last-word questions; over-refusal: safe prompts refused.")
    print(f"Leaderboard: {output.site / 'index.html'}")
    print(f"Tables:      {output.tables}")
    print(f"Results:     {output.results}")
    print(f"Log:         {output.log}")
    return 0
