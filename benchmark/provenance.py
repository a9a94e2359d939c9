"""Where and with what a result was made: versions, git commit, machine, times."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

from resta_bench.benchmark import __version__


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@cache
def git_commit() -> str | None:
    """The commit of this checkout, with ``+dirty`` when it has uncommitted changes; None outside git."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def machine() -> dict[str, Any]:
    description: dict[str, Any] = {
        "host": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    try:
        import torch

        description["torch"] = torch.__version__
        if torch.cuda.is_available():
            description["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except ImportError:
        pass
    return description


def software() -> dict[str, Any]:
    import lm_eval

    return {"resta_bench": __version__, "git_commit": git_commit(), "lm_eval": lm_eval.__version__}


def environment() -> dict[str, Any]:
    """What a run records of where it ran: software versions and commit, and the machine."""
    return {**software(), "machine": machine()}
