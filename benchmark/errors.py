"""Which exceptions are a user's mistake (reported as one line, exit code 2) rather than a bug."""

from __future__ import annotations

import importlib

# Each package keeps its own error base class so that it never imports `benchmark`.
_USER_ERROR_CLASSES: tuple[tuple[str, str], ...] = (
    ("benchmark.errors", "ConfigError"),
    ("realign.errors", "RealignError"),
    ("tasks.errors", "TaskError"),
    ("leaderboards.errors", "LeaderboardError"),
    ("judges.errors", "JudgeError"),
)


class ConfigError(ValueError):
    """A bad experiment file, option or results store; the message names the file and field."""


def user_error_types() -> tuple[type[BaseException], ...]:
    return tuple(getattr(importlib.import_module(module), name) for module, name in _USER_ERROR_CLASSES)
