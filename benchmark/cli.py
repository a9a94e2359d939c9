"""The `resta` command line: a thin layer over the library, one module per sub-command.

Each module in ``COMMAND_MODULES`` defines ``register(subparsers)``, which adds its parser and sets
``func`` (a callable taking the parsed namespace and returning an exit code). Modules are imported
only when the command line is built, and they import their heavy dependencies (torch, lm-eval)
inside ``func``, so ``resta --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from benchmark import __version__
from benchmark.errors import user_error_types

COMMAND_MODULES: tuple[str, ...] = (
    "benchmark.commands.finetune",
    "benchmark.commands.realign",
    "benchmark.commands.eval",
    "benchmark.commands.run",
    "benchmark.commands.compare",
    "benchmark.commands.tables",
    "benchmark.commands.leaderboard",
    "benchmark.commands.judge",
    "benchmark.commands.demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="resta",
        description="Measure, re-align and compare the safety of fine-tuned chat models (RESTA).",
    )
    parser.add_argument("--version", action="version", version=f"resta-bench {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args) or 0)
    except user_error_types() as error:
        # Errors a user can cause are one line naming the file / tensor / field; no traceback.
        print(f"resta {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"resta {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`resta run --dry-run | head`); silence the interpreter's flush at exit too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
