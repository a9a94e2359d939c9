"""The `resta` command line: a thin layer over the library, one module per sub-command.

Each module in ``COMMAND_MODULES`` defines ``register(subparsers)``, which adds its parser and sets
``func`` (a callable taking the parsed namespace and returning an exit code). Modules are imported
only when the command line is built, and they import their heavy dependencies (torch, lm-eval)
inside ``func``, so ``resta --help`` stays fast.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from resta_bench.benchmark import __version__
from resta_bench.benchmark.errors import user_error_types

COMMAND_MODULES: tuple[str, ...] = (
    "resta_bench.benchmark.commands.finetune",
    "resta_bench.benchmark.commands.realign",
    "resta_bench.benchmark.commands.eval",
    "resta_bench.benchmark.commands.run",
    "resta_bench.benchmark.commands.compare",
    "resta_bench.benchmark.commands.tables",
    "resta_bench.benchmark.commands.leaderboard",
    "resta_bench.benchmark.commands.judge",
    "resta_bench.benchmark.commands.validate_judge",
    "resta_bench.benchmark.commands.demo",
)
# OS errors that are the machine's state, not a bug: reported as one line, exit code 2.
_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


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
    except OSError as error:
        if error.errno not in _ENVIRONMENT_ERRNOS:
            raise
        # A full disk, a quota, a read-only or forbidden folder: the user's to fix, and nothing was left
        # half-written (every writer stages or writes atomically), so one line is the whole story.
        print(f"resta {args.command}: error: {error.filename or ''}: {error.strerror}", file=sys.stderr)
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
