"""Output dirs: staged beside the target by ``storage``, renamed into place only once complete.

What ``realign`` adds to :func:`resta_bench.storage.folders.staged_output`: the names its refusals use
(the command line's ``--out`` or Python's ``out``), the files a model dir carries besides its weights,
and file modes that follow the umask whatever wrote the files.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resta_bench.storage.atomic import file_mode, folder_mode
from resta_bench.storage.folders import check_output, staged_output

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
DEFAULT_MAX_SHARD_SIZE = "5GB"  # as transformers' save_pretrained shards
VECTOR_SUPPORT_FILES = ("config.json",)  # a vector is no model to load, but its config names the architecture


@dataclass(frozen=True)
class Spelling:
    """How messages name parameters: as the interface the user called spells them."""

    prefix: str  # before a parameter's name: "--" on the command line
    overwrite: str  # what replaces an existing output
    renamed: Mapping[str, str] = field(default_factory=dict)  # names the interface spells otherwise

    def name(self, parameter: str) -> str:
        name = self.renamed.get(parameter, parameter)
        return self.prefix + name.replace("_", "-") if self.prefix else name


PYTHON = Spelling("", "overwrite=True")
COMMAND_LINE = Spelling("--", "--overwrite", {"models": "model"})
EXPERIMENT = Spelling("", "overwrite: true")  # an experiment file's keys: a recipe's params and inputs


def named_inputs(inputs: Mapping[str, Any], spelling: Spelling) -> dict[str, Path]:
    """{the input's name: its path}; a list of paths (``models``) names its members #1, #2, ..."""
    named = {}
    for role, value in inputs.items():
        if isinstance(value, list):
            named |= {f"{spelling.name(role)} #{i}": Path(p) for i, p in enumerate(value, start=1)}
        else:
            named[spelling.name(role)] = Path(value)
    return named


def _output_rules(overwrite: bool, inputs: Mapping[str, Any], spelling: Spelling) -> dict[str, Any]:
    return dict(
        overwrite=overwrite,
        inputs=named_inputs(inputs, spelling),
        flag=spelling.name("out"),
        overwrite_flag=spelling.overwrite,
    )


def check_out(out: str | Path, *, overwrite: bool, inputs: Mapping[str, Any], spelling: Spelling) -> None:
    """Refuses ``out`` as :func:`staged_dir` would, touching nothing: call it before reading inputs, so
    that a bad input leaves not even the lock beside ``out``."""
    check_output(out, **_output_rules(overwrite, inputs, spelling))


@contextmanager
def staged_dir(
    out: str | Path, *, overwrite: bool, kind: str, inputs: Mapping[str, Any], spelling: Spelling
) -> Iterator[Path]:
    """An empty staging dir beside ``out`` that replaces ``out`` on success and is removed on failure.

    ``out`` is refused (``StorageError``) when it is, contains or lies inside one of ``inputs`` (role:
    path, or a list of paths), is a symbolic link, or exists and is not a dir resta wrote. An error of
    the machine (a full disk) names the output file, not the staging dir it happened in.
    """
    rules = _output_rules(overwrite, inputs, spelling)
    with staged_output(out, kind=kind, **rules) as staging, _errors_name_the_output(staging, Path(out)):
        yield staging


@contextmanager
def _errors_name_the_output(staging: Path, out: Path) -> Iterator[None]:
    try:
        yield
    except OSError as error:
        filename = Path(error.filename) if error.filename else staging
        if filename == staging or staging in filename.parents:
            error.filename = str(out / filename.relative_to(staging))
        raise


def copy_support_files(sources: list[Path], dest: Path, names: tuple[str, ...]) -> list[str]:
    """Copies each named file from the first source dir that has it; returns the names copied.

    The copies get the umask's mode, not their source's (which may be private to its owner)."""
    copied = []
    for name in names:
        origin = next((source / name for source in sources if (source / name).is_file()), None)
        if origin is not None:
            shutil.copyfile(origin, dest / name)
            copied.append(name)
    return copied


def follow_umask(folder: Path) -> None:
    """Gives every file and dir under ``folder`` the mode the umask gives, as ``open`` and ``mkdir`` do.

    For writers that are not ours: transformers' ``save_pretrained`` makes its safetensors files 0600.
    """
    for path in folder.rglob("*"):
        if not path.is_symlink():  # chmod would follow it out of the folder
            path.chmod(folder_mode() if path.is_dir() else file_mode())
