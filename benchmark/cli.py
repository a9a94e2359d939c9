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
import os
import sys
from collections.abc import Sequence

from resta_bench.benchmark import __version__, logs
from resta_bench.benchmark.errors import user_error_types

COMMAND_MODULES: tuple[str, ...] = (
    "resta_bench.benchmark.commands.finetune",
    "resta_bench.benchmark.commands.realign",
    "resta_bench.benchmark.commands.eval",
    "resta_bench.benchmark.commands.run",
    "resta_bench.benchmark.commands.ls",
    "resta_bench.benchmark.commands.compare",
    "resta_bench.benchmark.commands.tables",
    "resta_bench.benchmark.commands.leaderboard",
    "resta_bench.benchmark.commands.judge",
    "resta_bench.benchmark.commands.validate_judge",
    "resta_bench.benchmark.commands.demo",
)
# OS errors that are the machine's state, not a bug: reported as one line, exit code 2.
_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


VERBOSE_HELP = "every log record on stderr, lm-eval's and transformers' included, DEBUG too"


class _DefaultsFormatter(argparse.HelpFormatter):
    """Each option's help ends with its default, unless the help already says it or there is none to say."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        nothing = (None, False, argparse.SUPPRESS)
        if "default" in text or any(default is value for value in nothing) or default == []:
            return text
        if not action.option_strings and action.nargs not in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return text  # a positional argument the user always gives
        if isinstance(default, (list, tuple)):
            shown = " ".join(map(str, default)).replace("%", "%%") or "none"
            return f"{text} (default: {shown})"
        return f"{text} (default: %(default)s)"


class _RawDefaultsFormatter(_DefaultsFormatter, argparse.RawDescriptionHelpFormatter):
    pass


class RestaParser(argparse.ArgumentParser):
    """Every sub-command's help shows the defaults (a raw description stays raw)."""

    def __init__(self, *args, **kwargs) -> None:
        raw = issubclass(
            kwargs.get("formatter_class", argparse.HelpFormatter), argparse.RawDescriptionHelpFormatter
        )
        kwargs["formatter_class"] = _RawDefaultsFormatter if raw else _DefaultsFormatter
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = RestaParser(
        prog="resta",
        description="Measure, re-align and compare the safety of fine-tuned chat models (RESTA).",
    )
    parser.add_argument("--version", action="version", version=f"resta-bench {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    for command in subparsers.choices.values():
        taken = {"-v", "--verbose"} & set(command._option_string_actions)
        if "-" in command.prefix_chars and not taken:
            # Also after the command (`resta demo -v`); SUPPRESS keeps a `resta -v demo` from being reset.
            command.add_argument(
                "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP
            )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.configure(verbose=args.verbose)
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
