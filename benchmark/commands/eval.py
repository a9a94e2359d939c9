"""``resta eval``: lm-eval's own command line with this project's tasks on its include path.

Everything after ``resta eval`` is lm-eval's: ``resta eval --model hf --model_args pretrained=DIR
--tasks catqa_en --apply_chat_template --log_samples --output_path OUT`` runs ``lm-eval run`` with
``--include_path`` set to the ``tasks/`` directory; ``resta eval ls tasks`` and ``resta eval validate
--tasks catqa`` work likewise.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

LM_EVAL_COMMANDS = ("run", "ls", "validate")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="run lm-eval with the CatQA, RedEval, XSTest and utility tasks on its include path",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,  # --help goes to lm-eval, whose options these are
        prefix_chars="\x00",  # hand every argument, dashes and all, to lm-eval untouched
    )
    parser.add_argument("lm_eval_args", nargs=argparse.REMAINDER, help="lm-eval's own arguments")
    parser.set_defaults(func=run_eval)


def lm_eval_argv(args: Sequence[str]) -> list[str]:
    """lm-eval's argv for ``resta eval ARGS``: ``run`` unless another lm-eval command is named."""
    from resta_bench.tasks import TASKS_DIR
    from resta_bench.tasks.errors import TaskError

    if any(arg == "--include_path" or arg.startswith("--include_path=") for arg in args):
        raise TaskError(
            "--include_path: resta eval sets it to its own tasks directory; call lm-eval directly"
        )
    args = list(args)
    command = args.pop(0) if args and args[0] in LM_EVAL_COMMANDS else "run"
    if not args or args[0] in ("-h", "--help"):
        return ["lm-eval", command, *args]
    return ["lm-eval", command, *args, "--include_path", str(TASKS_DIR)]


@contextmanager
def _argv(argv: list[str]) -> Iterator[None]:
    saved = sys.argv
    sys.argv = argv
    try:
        yield
    finally:
        sys.argv = saved


def run_eval(args: argparse.Namespace) -> int:
    from lm_eval._cli import HarnessCLI
    from resta_bench.tasks.preflight import check_tasks, generation_length_error

    cli = HarnessCLI()
    with _argv(lm_eval_argv(args.lm_eval_args)):  # lm-eval's parser reads sys.argv
        lm_eval_args = cli.parse_args()
        if lm_eval_args.command == "run":
            check_tasks(lm_eval_args)  # our tasks' data, before lm-eval spends minutes loading a model
        try:
            cli.execute(lm_eval_args)
        except AssertionError as error:
            explained = generation_length_error(error)
            if explained is None:
                raise
            raise explained from None
    return 0
