"""Where log records go, so that progress bars stay readable.

- stderr: warnings and errors from every library, and resta's own INFO records; lm-eval's, transformers'
  and datasets' records below WARNING are not shown there. While a command's log file is open
  (``resta demo``, ``resta run``), resta's own INFO records go only to the file too: the progress bars
  say what is happening.
- the log file (``<demo out>/logs/demo.log``, ``<results>/.logs/run.log``, appended to): every record at
  INFO and above from every library, lm-eval's included.
- ``-v`` / ``--verbose``: every record, DEBUG included, on stderr as well, transformers' and datasets' INFO
  too, and no progress bar is hidden.

A few lm-eval warnings fire once per task whatever the caller does (``HINTS``); they go to the log file
only. ``quiet_lm_eval()`` is for in-process lm-eval runs: it hides lm-eval's per-task context-building
bars and transformers' weight-loading bars (one display per step: lm-eval's generation bar), and runs
lm-eval's ``git describe`` with its stderr discarded, so that a run outside a git checkout prints no
``fatal: not a git repository``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

OWN = "resta_bench"
FORMAT = "%(levelname)s %(name)s: %(message)s"
FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# lm-eval warnings that say nothing about this run: the first fires for every task with its own loader
# (ours take their data folders as metadata), the second whenever generation settings are given.
HINTS = (
    "Custom kwargs can be passed to `--metadata`",
    "specified through cli, these settings will update set parameters in yaml tasks",
)


class _Settings:
    verbose = False
    own_info_on_stderr = True  # off while a log file is open


_settings = _Settings()


def _is_hint(record: logging.LogRecord) -> bool:
    message = record.getMessage()
    return any(hint in message for hint in HINTS)


class _StderrFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _settings.verbose:
            return True
        if record.levelno >= logging.WARNING:
            return not _is_hint(record)
        own = record.name == OWN or record.name.startswith(OWN + ".")
        return own and record.levelno >= logging.INFO and _settings.own_info_on_stderr


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (pytest's capture, a redirect), as tqdm does."""

    def __init__(self) -> None:
        super().__init__()
        self.addFilter(_StderrFilter())
        self.setFormatter(logging.Formatter(FORMAT))

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ assigns one; the property ignores it
        pass


def configure(verbose: bool = False) -> None:
    """The command line's logging: the stderr handler above on the root logger (replacing an earlier one)."""
    _settings.verbose = verbose
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(handler)
    root.addHandler(_StderrHandler())
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    if verbose:
        _libraries_verbose()


def _libraries_verbose() -> None:
    """transformers and datasets log through handlers of their own, at WARNING unless told otherwise."""
    for library, variable in (("transformers", "TRANSFORMERS_VERBOSITY"), ("datasets", "DATASETS_VERBOSITY")):
        os.environ.setdefault(variable, "info")  # read when the library is first imported
        if library in sys.modules:
            sys.modules[f"{library}.utils.logging"].set_verbosity_info()


class _LazyFileHandler(logging.FileHandler):
    """Makes its folder and file with the first record, so that a command refused before it did anything
    (a bad experiment file, a wrong ``-o``) leaves nothing behind."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8", delay=True)

    def _open(self):
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()


@contextmanager
def log_file(path: str | Path) -> Iterator[Path]:
    """Every INFO-and-above record into ``path`` (appended; made with the first record) while the block
    runs; see the module's text.

    Outside the command line (nothing configured), warnings still reach stderr, as Python's last-resort
    handler would show them.
    """
    path = Path(path)
    handler = _LazyFileHandler(path)
    handler.setLevel(logging.DEBUG if _settings.verbose else logging.INFO)
    handler.setFormatter(logging.Formatter(FILE_FORMAT))
    root = logging.getLogger()
    configured = any(isinstance(each, _StderrHandler) for each in root.handlers)
    added = [handler] if configured else [handler, _StderrHandler()]
    saved_level, saved_own_info = root.level, _settings.own_info_on_stderr
    if root.level > logging.INFO:  # records below the root's level are never made (NOTSET makes all)
        root.setLevel(logging.INFO)
    _settings.own_info_on_stderr = False
    for each in added:
        root.addHandler(each)
    try:
        yield path
    finally:
        for each in added:
            root.removeHandler(each)
        handler.close()
        root.setLevel(saved_level)
        _settings.own_info_on_stderr = saved_own_info


def _quiet_git_describe() -> str | None:
    """lm-eval's ``get_git_commit_hash`` (the commit of the working directory's checkout), minus the
    ``fatal: not a git repository`` that git prints on stderr outside one."""
    from lm_eval.loggers.utils import get_commit_from_path

    try:
        described = subprocess.run(
            ["git", "describe", "--always"], capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return get_commit_from_path(os.getcwd())
    return described.stdout.strip()


@contextmanager
def quiet_lm_eval() -> Iterator[None]:
    """An in-process lm-eval run with one progress display and no stray git message (see the module)."""
    import lm_eval.api.task
    import lm_eval.evaluator
    from transformers.utils import logging as transformers_logging

    if _settings.verbose:
        yield
        return
    # lm-eval offers no switch for these, so its module globals are swapped for the run and put back.
    saved = (lm_eval.evaluator.get_git_commit_hash, lm_eval.api.task.tqdm)
    bars = transformers_logging.is_progress_bar_enabled()
    lm_eval.evaluator.get_git_commit_hash = _quiet_git_describe
    lm_eval.api.task.tqdm = partial(lm_eval.api.task.tqdm, disable=True)
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        lm_eval.evaluator.get_git_commit_hash, lm_eval.api.task.tqdm = saved
        if bars:
            transformers_logging.enable_progress_bar()
