"""How ``resta eval`` hands its arguments to lm-eval's command line."""

from __future__ import annotations

import argparse

import pytest
from resta_bench.benchmark.cli import build_parser
from resta_bench.benchmark.commands.eval import lm_eval_argv
from resta_bench.tasks import TASKS_DIR
from resta_bench.tasks.errors import TaskError, generation_length_error


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


def test_the_check_before_the_model_builds_our_tasks_only(catqa_dir, tmp_path):
    from resta_bench.tasks.preflight import check_tasks

    # lm-eval's own tasks, and our groups of them, are left to lm-eval (building them here would fail).
    arguments = argparse.Namespace(tasks="mmlu,utility_en,catqa_en", metadata={"catqa_dir": str(catqa_dir)})
    check_tasks(arguments)
    metadata = {"catqa_dir": str(catqa_dir), "xstest_dir": str(tmp_path)}
    arguments = argparse.Namespace(tasks=["catqa_en_child_*", "xstest"], metadata=metadata)
    with pytest.raises(TaskError, match="xstest_prompts.csv: no such file"):
        check_tasks(arguments)


def test_only_lm_evals_no_room_assertion_is_restated():
    lm_eval_says = AssertionError(
        "Invalid configuration: requested max tokens to generate (512) must be less than model's maximum "
        "sequence length (256)."
    )
    assert "pass --gen_kwargs max_gen_toks=N with N < 256" in str(generation_length_error(lm_eval_says))
    assert generation_length_error(AssertionError("another check")) is None
    assert generation_length_error(ValueError(str(lm_eval_says))) is None  # lm-eval's assertion only
