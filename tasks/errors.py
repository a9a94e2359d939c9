"""Errors a user can cause with the tasks: a missing or malformed data file, a bad task setting."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import TracebackType


class TaskError(ValueError):
    """An absent or unreadable data file, or a bad judge setting; the message names the file or field.

    lm-eval's own command line (``lm_eval --include_path ...``) handles no exception: one raised by a data
    loader would end the process with a traceback. So this module, imported by every task that can raise
    one, chains an excepthook that reports an uncaught TaskError, or lm-eval's assertion that answers fill
    the model's context, as one line (as ``resta`` does); code that catches them sees no difference, and
    every other exception keeps its traceback.
    """


# The assertion lm-eval's hf model makes before generating (lm_eval/models/huggingface.py, 0.4.13).
_NO_ROOM_FOR_PROMPT = re.compile(
    r"requested max tokens to generate \((\d+)\) must be less than model's maximum sequence length \((\d+)\)"
)


def generation_length_error(error: BaseException) -> TaskError | None:
    """lm-eval's assertion that max_gen_toks leaves no room for a prompt, restated to say what to pass.

    Our safety tasks ask for 512 new tokens; a model that holds 512 positions (the demo's) has none left.
    Capping the answers silently would change the protocol, so the run stops and names both ways out.
    """
    found = _NO_ROOM_FOR_PROMPT.search(str(error)) if isinstance(error, AssertionError) else None
    if found is None:
        return None
    wanted, limit = found.groups()
    return TaskError(
        f"max_gen_toks={wanted} leaves no room for the prompt in the model's maximum sequence length of "
        f"{limit} tokens: pass --gen_kwargs max_gen_toks=N with N < {limit} (prompts keep {limit} - N "
        f"tokens), or add max_length=M to --model_args if the model takes longer sequences"
    )


def _one_line_hook(kind: type[BaseException], error: BaseException, traceback: TracebackType | None) -> None:
    # Our tasks are built (and this module imported) before lm-eval generates, so plain `lm_eval` gets the
    # restated assertion too.
    user_error = error if isinstance(error, TaskError) else generation_length_error(error)
    if user_error is not None:
        print(f"{_program()}: error: {user_error}", file=sys.stderr)
    else:
        _previous_hook(kind, error, traceback)


def _program() -> str:
    # `lm_eval ...` -> "lm_eval"; `python -m lm_eval ...` runs lm_eval/__main__.py -> "lm_eval" too.
    path = Path(sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c") else "python")
    return path.parent.name if path.name == "__main__.py" else path.name


_previous_hook = sys.excepthook
sys.excepthook = _one_line_hook
