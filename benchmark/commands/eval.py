"""``resta eval``: lm-eval's own command line with this project's tasks on its include path.

Everything after ``resta eval`` is lm-eval's: ``resta eval --model hf --model_args pretrained=DIR
--tasks catqa_en --apply_chat_template --log_samples --output_path OUT`` runs ``lm-eval run`` with
``--include_path`` set to the ``tasks/`` directory; ``resta eval ls tasks`` and ``resta eval validate
--tasks catqa`` work likewise.

One option is this project's: ``--protocol paper`` (or ``greedy``) puts a generation protocol's
settings (benchmark/protocols.py) on lm-eval's command line, ahead of the options given, which override
them. ``paper`` is the RESTA authors' (the bare question without the chat template, sampling at
temperature 0.6 and top-p 0.9 with top-k 50, 500 new tokens, float32); lm-eval's ``--seed`` seeds the
draws. Several samples per question are for experiment files (a suite's ``samples``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

LM_EVAL_COMMANDS = ("run", "ls", "validate")
PROTOCOL_OPTION = "--protocol"


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
    args, protocol = _take_protocol(args)
    if protocol is not None and command != "run":
        raise TaskError(f"{PROTOCOL_OPTION}: only for running an evaluation, not for lm-eval {command}")
    if not args or args[0] in ("-h", "--help"):
        return ["lm-eval", command, *args]
    ahead = protocol_arguments(protocol) if protocol is not None else []
    return ["lm-eval", command, *ahead, *args, "--include_path", str(TASKS_DIR)]


def _take_protocol(args: list[str]) -> tuple[list[str], str | None]:
    """``args`` without ``--protocol NAME`` (or ``--protocol=NAME``), and the name."""
    from resta_bench.benchmark.protocols import PROTOCOLS
    from resta_bench.tasks.errors import TaskError

    for index, arg in enumerate(args):
        if arg == PROTOCOL_OPTION or arg.startswith(PROTOCOL_OPTION + "="):
            given = arg.partition("=")[2] if "=" in arg else (args[index + 1 : index + 2] or [""])[0]
            if given not in PROTOCOLS:
                raise TaskError(f"{PROTOCOL_OPTION} {given!r}: must be one of {', '.join(PROTOCOLS)}")
            rest = args[:index] + args[index + (1 if "=" in arg else 2) :]
            return rest, given
    return args, None


def protocol_arguments(name: str) -> list[str]:
    """lm-eval's options for the generation protocol ``name`` (benchmark/protocols.py)."""
    from resta_bench.benchmark.protocols import PROTOCOLS

    protocol = PROTOCOLS[name]
    generation = dict(protocol.gen_kwargs)
    if protocol.max_gen_toks is not None:
        generation["max_gen_toks"] = protocol.max_gen_toks
    arguments = ["--gen_kwargs", *(f"{key}={value}" for key, value in generation.items())]
    if protocol.dtype is not None:
        arguments += ["--model_args", f"dtype={protocol.dtype}"]
    return arguments + (["--apply_chat_template"] if protocol.apply_chat_template else [])


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
    from resta_bench.tasks.errors import generation_length_error
    from resta_bench.tasks.preflight import check_tasks

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
