"""lm-evaluation-harness task definitions: CatQA, the other safety sets, over-refusal, utility groups.

lm-eval finds third-party tasks only through ``include_path``; :data:`TASKS_DIR` is that directory and
:func:`task_manager` builds a ``TaskManager`` that knows our tasks as well as lm-eval's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

TASKS_DIR: Path = Path(__file__).resolve().parent


def task_manager(metadata: dict[str, Any] | None = None, include_defaults: bool = True):
    """An ``lm_eval.tasks.TaskManager`` over :data:`TASKS_DIR`; ``metadata`` reaches the data loaders
    (e.g. ``{"catqa_dir": "/data/catqa"}``)."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=str(TASKS_DIR), include_defaults=include_defaults, metadata=metadata)
