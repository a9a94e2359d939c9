"""Which exceptions are a user's mistake (reported as one line, exit code 2) rather than a bug."""

from __future__ import annotations

import importlib

# Each package keeps its own error base class so that it never imports `benchmark`.
_USER_ERROR_CLASSES: tuple[tuple[str, str], ...] = (
    ("resta_bench.benchmark.errors", "ConfigError"),
    ("resta_bench.realign.errors", "RealignError"),
    ("resta_bench.tasks.errors", "TaskError"),
    ("resta_bench.leaderboards.errors", "LeaderboardError"),
    ("resta_bench.judges.errors", "JudgeError"),
    ("resta_bench.storage.errors", "StorageError"),
)


class ConfigError(ValueError):
    """A bad experiment file, option or results store; the message names the file and field."""


def user_error_types() -> tuple[type[BaseException], ...]:
    return tuple(getattr(importlib.import_module(module), name) for module, name in _USER_ERROR_CLASSES)
