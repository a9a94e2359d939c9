"""The output dir: staged beside the target, renamed into place only once complete."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from resta_bench.realign.errors import RealignError

MODEL_SUPPORT_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "chat_template.jinja",
    "chat_template.json",
)
VECTOR_SUPPORT_FILES = ("config.json",)  # a vector is no model to load, but its config names the architecture


@contextmanager
def staged_dir(out: Path, *, overwrite: bool, inputs: list[Path]) -> Iterator[Path]:
    """Yields a temporary dir beside ``out``; on success it replaces ``out``, on any failure it is removed."""
    out = out.absolute()
    if out.exists() and not overwrite:
        raise RealignError(f"--out {out}: already exists (pass --overwrite to replace it)")
    if any(out.resolve() == path.resolve() for path in inputs):
        raise RealignError(f"--out {out}: is also an input")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _replace(staging, out)


def _replace(staging: Path, out: Path) -> None:
    if not out.exists():
        staging.rename(out)
        return
    retired = out.with_name(f".{out.name}.replaced-{os.getpid()}")
    out.rename(retired)
    staging.rename(out)
    if retired.is_dir():
        shutil.rmtree(retired)
    else:
        retired.unlink()


def copy_support_files(sources: list[Path], dest: Path, names: tuple[str, ...]) -> list[str]:
    """Copies each named file from the first source dir that has it; returns the names copied."""
    copied = []
    for name in names:
        origin = next((source / name for source in sources if (source / name).is_file()), None)
        if origin is not None:
            shutil.copy2(origin, dest / name)
            copied.append(name)
    return copied


def write_json(path: Path, data: dict) -> None:
    """Atomic: a reader sees the old file or the whole new one."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    partial.replace(path)
