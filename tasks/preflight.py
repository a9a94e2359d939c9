"""What ``resta eval`` checks before lm-eval loads a model, and an lm-eval failure it restates as one line.

lm-eval builds the model first and the tasks (which read their data) after it, so a missing CatQA file
would surface only once a 7B model has loaded. :func:`check_tasks` builds this package's requested tasks
first, with the metadata lm-eval will hand them, so a bad data setting stops the run before any model.
"""

from __future__ import annotations

import argparse
import copy
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

from lm_eval.config.evaluate_config import EvaluatorConfig
from lm_eval.tasks import TaskManager
from resta_bench.tasks import task_manager
from resta_bench.tasks.errors import TaskError

# The assertion lm-eval's hf model makes before generating (lm_eval/models/huggingface.py, 0.4.13).
_NO_ROOM_FOR_PROMPT = re.compile(
    r"requested max tokens to generate \((\d+)\) must be less than model's maximum sequence length \((\d+)\)"
)


def check_tasks(arguments: argparse.Namespace) -> None:
    """Build the tasks of this package that ``lm-eval run`` was asked for: a TaskError names what is wrong."""
    with _logs_silenced():  # everything logged here is logged again by the run itself
        # A copy: the config writes into the dicts it is given (model_args), and lm-eval reads them next.
        config = EvaluatorConfig.from_cli(argparse.Namespace(**copy.deepcopy(_settings(arguments))))
        manager = task_manager(metadata=config.metadata, include_defaults=False)
        for name in manager.match_tasks(_requested(config.tasks)):
            if _builds_alone(manager, name):
                manager.load(name)  # one at a time: `catqa,catqa_en` is lm-eval's to refuse, not ours


def generation_length_error(error: AssertionError) -> TaskError | None:
    """lm-eval's assertion that max_gen_toks leaves no room for a prompt, restated to say what to pass."""
    found = _NO_ROOM_FOR_PROMPT.search(str(error))
    if found is None:
        return None
    wanted, limit = found.groups()
    return TaskError(
        f"max_gen_toks={wanted} leaves no room for the prompt in the model's maximum sequence length of "
        f"{limit} tokens: pass --gen_kwargs max_gen_toks=N with N < {limit} (prompts keep {limit} - N "
        f"tokens), or add max_length=M to --model_args if the model takes longer sequences"
    )


def _settings(arguments: argparse.Namespace) -> dict:
    # lm-eval's parser also stores its subcommand's handler; the evaluator config wants the settings only.
    return {key: value for key, value in vars(arguments).items() if not callable(value)}


def _requested(tasks: str | list | None) -> list[str]:
    # `--tasks a,b`, or a list of such strings from a --config file; other entries (dicts) are not names.
    entries = [tasks] if isinstance(tasks, str) else list(tasks or [])
    return [name for entry in entries if isinstance(entry, str) for name in entry.split(",") if name]


def _builds_alone(manager: TaskManager, name: str) -> bool:
    """Whether ``name`` and every member of it is one of ours (the utility groups hold lm-eval's tasks)."""
    if name not in manager.task_index:
        return False
    if name not in manager.all_groups:
        return True
    members = manager.task_index[name].cfg["task"]
    return all(isinstance(member, str) and _builds_alone(manager, member) for member in members)


@contextmanager
def _logs_silenced() -> Iterator[None]:
    saved = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(saved)
