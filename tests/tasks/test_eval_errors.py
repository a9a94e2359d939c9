"""Settings a user gets wrong stop ``lm_eval`` and ``resta eval`` with one line, in real processes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from resta_bench.tasks import TASKS_DIR, task_manager
from resta_bench.tasks.errors import TaskError
from resta_bench.tasks.sources import CATQA_REVISION

pytestmark = pytest.mark.slow

RESTA_EVAL = [sys.executable, "-m", "resta_bench.benchmark.cli", "eval"]
LM_EVAL = [sys.executable, "-m", "lm_eval", "--include_path", str(TASKS_DIR)]

NO_LOCAL_COPY = (
    f"error: cannot fetch https://huggingface.co/datasets/declare-lab/CategoricalHarmfulQA/resolve/{CATQA_REVISION}"
    "/data/catqa_english.json (OfflineModeIsEnabled); on an offline machine name a local copy with "
    "--metadata catqa_dir=DIR or CATQA_DIR=DIR"
)
# The tiny model holds 512 positions, the tasks ask for 512 new tokens: no room is left for the prompt.
NO_ROOM_FOR_PROMPT = (
    "error: max_gen_toks=512 leaves no room for the prompt in the model's maximum sequence length of 512 "
    "tokens: pass --gen_kwargs max_gen_toks=N with N < 512 (prompts keep 512 - N tokens), or add "
    "max_length=M to --model_args if the model takes longer sequences"
)


def run(command: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "CATQA_DIR"}
    # Offline, with empty caches: no earlier download can stand in for the missing local copy.
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


def catqa_en(model: Path | str, *extra: str) -> list[str]:
    return ["--tasks", "catqa_en", "--model", "hf", "--model_args", f"pretrained={model}", "--device", "cpu",
            "--limit", "1", *extra]  # fmt: skip


def error_lines(stderr: str, prefix: str) -> list[str]:
    # tqdm leaves its bar at the start of the line the error is printed on; the error is the line's tail.
    return [prefix + line.split(prefix, 1)[1] for line in stderr.splitlines() if prefix in line]


def test_lm_eval_itself_reports_missing_data_in_one_line(tiny_model_dir, tmp_path):
    done = run([*LM_EVAL, *catqa_en(tiny_model_dir)], tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1] == f"lm_eval: {NO_LOCAL_COPY}"


def test_resta_eval_reports_missing_data_before_loading_any_model(tmp_path):
    # The model does not exist: had lm-eval loaded it first, this run would fail on the model instead.
    done = run([*RESTA_EVAL, *catqa_en(tmp_path / "no-such-model", "--output_path", "out")], tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "Initializing hf model" not in done.stderr
    assert error_lines(done.stderr, "resta eval: error: ") == [f"resta eval: {NO_LOCAL_COPY}"]
    assert not (tmp_path / "out").exists()


def test_lm_eval_loads_the_model_before_it_builds_any_task(tmp_path, monkeypatch):
    """Why plain ``lm_eval`` reports missing data only once the model has loaded: lm-eval constructs the
    model before it builds any task, so none of our code runs earlier (tasks/preflight.py says where).
    Should this fail, lm-eval has changed its order, and the README's note on plain lm_eval can go."""
    from lm_eval._cli import HarnessCLI

    no_data = tmp_path / "empty"
    no_data.mkdir()
    with pytest.raises(TaskError, match="catqa_english.json"):  # what building the tasks first would raise
        task_manager(metadata={"catqa_dir": str(no_data)}, include_defaults=False).load("catqa_en")
    no_model = tmp_path / "no-such-model"
    arguments = [
        "lm_eval",
        "--include_path",
        str(TASKS_DIR),
        *catqa_en(no_model, "--metadata", f"catqa_dir={no_data}"),
    ]
    monkeypatch.setattr(sys, "argv", arguments)
    cli = HarnessCLI()  # lm-eval's real command line, in this process
    with pytest.raises(OSError, match=re.escape(str(no_model))):  # the model's error, not the data's
        cli.execute(cli.parse_args())


def test_lm_eval_itself_names_the_setting_when_answers_fill_the_context(tiny_model_dir, catqa_dir, tmp_path):
    done = run([*LM_EVAL, *catqa_en(tiny_model_dir, "--metadata", f"catqa_dir={catqa_dir}")], tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert error_lines(done.stderr, "lm_eval: error: ") == [f"lm_eval: {NO_ROOM_FOR_PROMPT}"]


def test_resta_eval_names_the_setting_when_answers_fill_the_context(tiny_model_dir, catqa_dir, tmp_path):
    local_data = ("--metadata", f"catqa_dir={catqa_dir}", "--output_path", "out")
    done = run([*RESTA_EVAL, *catqa_en(tiny_model_dir, *local_data)], tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert error_lines(done.stderr, "resta eval: error: ") == [f"resta eval: {NO_ROOM_FOR_PROMPT}"]
    assert not (tmp_path / "out").exists()
