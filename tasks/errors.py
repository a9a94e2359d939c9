"""Errors a user can cause with the tasks: a missing or malformed data file, a bad task setting."""

from __future__ import annotations

import sys
from pathlib import Path
from types import TracebackType


class TaskError(ValueError):
    """An absent or unreadable data file, or a bad judge setting; the message names the file or field.

    lm-eval's own command line (``lm_eval --include_path ...``) handles no exception: one raised by a data
    loader would end the process with a traceback. So this module, imported by every task that can raise
    one, chains an excepthook that reports an uncaught TaskError as one line (as ``resta`` does); code that
    catches it sees no difference, and every other exception keeps its traceback.
    """


def _one_line_hook(kind: type[BaseException], error: BaseException, traceback: TracebackType | None) -> None:
    if isinstance(error, TaskError):
        print(f"{_program()}: error: {error}", file=sys.stderr)
    else:
        _previous_hook(kind, error, traceback)


def _program() -> str:
    # `lm_eval ...` -> "lm_eval"; `python -m lm_eval ...` runs lm_eval/__main__.py -> "lm_eval" too.
    path = Path(sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c") else "python")
    return path.parent.name if path.name == "__main__.py" else path.name


_previous_hook = sys.excepthook
sys.excepthook = _one_line_hook
