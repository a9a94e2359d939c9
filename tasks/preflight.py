"""What ``resta eval`` checks before lm-eval loads a model.

lm-eval (0.4.13) builds the model first and the tasks after it: ``lm-eval run`` indexes the include path's
YAML files without resolving their ``!function`` tags (``tasks/_index.py``) and matches task names only
(``EvaluatorConfig.process_tasks``); ``simple_evaluate`` then constructs the model and only afterwards
calls ``TaskManager.load``, which first imports our modules and reads the data. So under plain ``lm_eval``
no code of ours runs before the model, and a missing CatQA file surfaces once a 7B model has loaded.
:func:`check_tasks` builds this package's requested tasks first, with the metadata lm-eval will hand
them, so under ``resta eval`` a bad data setting stops the run before any model.
"""

from __future__ import annotations

import argparse
import copy
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from lm_eval.config.evaluate_config import EvaluatorConfig
from lm_eval.tasks import TaskManager
from resta_bench.tasks import task_manager


def check_tasks(arguments: argparse.Namespace) -> None:
    """Build the tasks of this package that ``lm-eval run`` was asked for: a TaskError names what is wrong."""
    with _logs_silenced():  # everything logged here is logged again by the run itself
        # A copy: the config writes into the dicts it is given (model_args), and lm-eval reads them next.
        config = EvaluatorConfig.from_cli(argparse.Namespace(**copy.deepcopy(_settings(arguments))))
        manager = task_manager(metadata=config.metadata, include_defaults=False)
        for name in manager.match_tasks(_requested(config.tasks)):
            if _builds_alone(manager, name):
                manager.load(name)  # one at a time: `catqa,catqa_en` is lm-eval's to refuse, not ours


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
