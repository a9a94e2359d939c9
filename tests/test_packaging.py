"""The install claims one import name, ``resta_bench``, and tells lm-eval where its tasks are."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

FOLDERS = ("benchmark", "judges", "leaderboards", "realign", "storage", "tasks")


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    # -I: no current directory and no PYTHON* variables on the path, as for any script outside the checkout.
    return subprocess.run([sys.executable, "-I", "-c", code], cwd=cwd, capture_output=True, text=True)


@pytest.mark.parametrize("folder", FOLDERS)
def test_each_folder_imports_under_resta_bench_only(folder, tmp_path):
    assert _python(f"import resta_bench.{folder}", tmp_path).returncode == 0
    generic = _python(f"import {folder}", tmp_path)
    assert generic.returncode != 0 and "ModuleNotFoundError" in generic.stderr


def test_lm_eval_task_entry_point_names_the_tasks_folder():
    from resta_bench import tasks

    (entry,) = importlib.metadata.entry_points(group="lm_eval.tasks", name="resta_bench")
    assert Path(entry.load().__file__).parent == tasks.TASKS_DIR


def test_console_script_is_the_namespaced_cli():
    (entry,) = importlib.metadata.entry_points(group="console_scripts", name="resta")
    assert entry.value == "resta_bench.benchmark.cli:main"


def test_every_package_folder_is_listed_for_the_wheel():
    # An unlisted subpackage works in the editable install but is missing from a wheel (`pip install .`).
    import tomllib

    root = Path(__file__).resolve().parents[1]
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        "resta_bench." + ".".join(init.parent.relative_to(root).parts)
        for folder in FOLDERS
        for init in (root / folder).rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert found - listed == set()
