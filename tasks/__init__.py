"""lm-evaluation-harness task definitions: CatQA, the other safety sets, over-refusal, utility groups.

lm-eval finds third-party tasks only through ``include_path``; :data:`TASKS_DIR` is that directory and
:func:`task_manager` builds a ``TaskManager`` that knows our tasks as well as lm-eval's own.

The public submodules (``catalogue``, ``documents``, ``errors``, ``formats``, ``preflight``, ``scoring``,
``sources``) are attributes of the package (``tasks.documents.CATQA_CATEGORIES``), imported on first use:
``scoring`` and ``preflight`` import lm-eval, which takes seconds, and ``from resta_bench import tasks``
must stay instant.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

TASKS_DIR: Path = Path(__file__).resolve().parent
SUBMODULES = ("catalogue", "documents", "errors", "formats", "preflight", "scoring", "sources")


def task_manager(metadata: dict[str, Any] | None = None, include_defaults: bool = True):
    """An ``lm_eval.tasks.TaskManager`` over :data:`TASKS_DIR`; ``metadata`` reaches the data loaders
    (e.g. ``{"catqa_dir": "/data/catqa"}``)."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=str(TASKS_DIR), include_defaults=include_defaults, metadata=metadata)


def __getattr__(name: str) -> ModuleType:
    if name in SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *SUBMODULES})
