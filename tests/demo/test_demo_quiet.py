"""`resta demo` as a user meets it: a real process, started outside any git checkout. Its stderr holds the
progress bars and nothing of lm-eval's chatter, which goes to the log file in the output folder; then
`resta ls` lists the demo's systems and `resta compare` takes their names."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from resta_bench.benchmark.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    cwd = tmp_path_factory.mktemp("not-a-checkout")
    out = cwd / "demo"
    command = [sys.executable, "-m", "resta_bench.benchmark.cli", "demo", "--quick", "--out", str(out)]
    env = {"GIT_CEILING_DIRECTORIES": str(cwd.parent)}  # git looks no further up than the tmp folder
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env={**os.environ, **env})
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done


def _stderr_lines(done: subprocess.CompletedProcess) -> list[str]:
    return [line for line in re.split(r"[\r\n]", done.stderr) if line.strip()]


def test_stderr_has_no_lm_eval_info_lines_and_no_git_message(demo):
    _, done = demo
    lines = _stderr_lines(done)
    assert not [line for line in lines if line.startswith("INFO ")], lines[:20]
    assert not [line for line in lines if "lm_eval" in line], lines[:20]
    assert "Custom kwargs can be passed" not in done.stderr
    assert "fatal: not a git repository" not in done.stderr


def test_lm_evals_records_are_in_the_log_file(demo):
    out, done = demo
    log = out / "logs" / "demo.log"
    text = log.read_text(encoding="utf-8")
    assert " INFO lm_eval.evaluator: " in text and " INFO resta_bench.benchmark.demo.run: demo step:" in text
    assert f"Log:         {log}" in done.stdout


def test_ls_and_compare_take_the_demos_names(demo, capsys):
    results = demo[0] / "results"
    assert main(["ls", str(results)]) == 0
    listing = capsys.readouterr().out
    names = [line.split()[0] for line in listing.splitlines()[1:]]
    assert {"aligned", "unaligned", "sft-last-word", "resta/beta=0.5", "resta-dare"} <= set(names)
    argv = ["compare", str(results), "--a", "sft-last-word", "--b", "resta/beta=0.5", "--iterations", "100"]
    assert main(argv) == 0
    assert "resta/beta=0.5 (resta-" in capsys.readouterr().out
