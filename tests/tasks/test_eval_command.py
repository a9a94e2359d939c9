"""How ``resta eval`` hands its arguments to lm-eval's command line."""

from __future__ import annotations

import pytest
from resta_bench.benchmark.cli import build_parser
from resta_bench.benchmark.commands.eval import lm_eval_argv
from resta_bench.tasks import TASKS_DIR
from resta_bench.tasks.errors import TaskError


def test_every_argument_reaches_lm_eval_untouched():
    args = build_parser().parse_args(["eval", "--model", "hf", "--tasks", "catqa_en", "-h", "--limit", "2"])
    assert args.lm_eval_args == ["--model", "hf", "--tasks", "catqa_en", "-h", "--limit", "2"]


def test_run_is_the_default_and_the_tasks_directory_is_included():
    assert lm_eval_argv(["--tasks", "catqa"]) == [
        "lm-eval",
        "run",
        "--tasks",
        "catqa",
        "--include_path",
        str(TASKS_DIR),
    ]
    assert lm_eval_argv(["ls", "groups"]) == ["lm-eval", "ls", "groups", "--include_path", str(TASKS_DIR)]
    assert lm_eval_argv(["--help"]) == ["lm-eval", "run", "--help"]


def test_a_second_include_path_is_refused():
    with pytest.raises(TaskError, match="--include_path"):
        lm_eval_argv(["--tasks", "catqa", "--include_path=/elsewhere"])
