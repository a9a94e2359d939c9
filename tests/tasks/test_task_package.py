"""``resta_bench.tasks`` as a package: its public submodules are attributes, and importing it stays light."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from resta_bench import tasks


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess:
    # A fresh interpreter: what `from resta_bench import tasks` imports must not be hidden by this session's.
    return subprocess.run([sys.executable, "-I", "-c", code], cwd=cwd, capture_output=True, text=True)


def _python(code: str, cwd: Path) -> dict:
    done = _run(code, cwd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_public_submodules_are_attributes_of_the_package(tmp_path):
    seen = _python(
        "import json, sys\n"
        "from resta_bench import tasks\n"
        "light = 'lm_eval' not in sys.modules and 'datasets' not in sys.modules\n"
        "categories = list(tasks.documents.CATQA_CATEGORIES)\n"
        "after_documents = 'lm_eval' not in sys.modules\n"
        "names = [tasks.scoring.JudgeFilter.__name__, tasks.errors.TaskError.__name__]\n"
        "print(json.dumps([light, categories, after_documents, *names]))",
        tmp_path,
    )
    assert seen == [True, list(tasks.documents.CATQA_CATEGORIES), True, "JudgeFilter", "TaskError"]
    assert len(seen[1]) == 11


def test_the_submodule_list_is_every_public_module_file():
    on_disk = {path.stem for path in tasks.TASKS_DIR.glob("*.py") if not path.stem.startswith("_")}
    assert set(tasks.SUBMODULES) == on_disk
    assert set(tasks.SUBMODULES) <= set(dir(tasks))


def test_an_unknown_attribute_is_still_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_module"):
        tasks.no_such_module  # noqa: B018


def test_an_uncaught_task_error_is_one_line_and_other_errors_keep_their_traceback(tmp_path):
    made = "from resta_bench.tasks.errors import TaskError\n"
    done = _run(made + "raise TaskError('/data/x.json: no such file')", tmp_path)
    assert (done.returncode, done.stderr) == (1, "python: error: /data/x.json: no such file\n")
    done = _run(made + "TaskError('made, not raised')\nraise KeyError('a bug')", tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("Traceback") and done.stderr.endswith("KeyError: 'a bug'\n")
