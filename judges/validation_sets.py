"""Human-labelled responses to measure judges against: two public sets, or a team's own JSON Lines file.

Built-in sets (``name`` or ``name:split``), one module each:

- ``gptfuzz`` (English, :mod:`judges.validation_gptfuzz`): splits ``train`` and ``evaluate`` (the
  default, held out by question).
- ``latent-jailbreak`` (Chinese and English, :mod:`judges.validation_latent_jailbreak`): splits ``test``
  (the default, eight held-out target groups), ``train`` and ``all``.

Both come from a local directory when one is named (``root``, else ``$RESTA_JUDGE_VALIDATION_DIR``), laid
out as ``gptfuzz/{train,evaluate,question_list}.csv`` and ``latent_jailbreak/annotated_belle_chatglm2.jsonl``;
otherwise they are downloaded once at pinned commits and checked against pinned SHA-256
(:mod:`judges.validation_download`). Own sets: a ``.jsonl`` file (:mod:`judges.validation_jsonl`).

This module is where callers import from: it re-exports the names of the modules above.
"""

from __future__ import annotations

import os
from pathlib import Path

from resta_bench.judges.errors import JudgeError
from resta_bench.judges.validation_download import ROOT_ENV, BuiltinSet, file_hashes, set_files
from resta_bench.judges.validation_files import sha256_file
from resta_bench.judges.validation_gptfuzz import GPTFUZZ, GPTFUZZ_COMMIT, GPTFUZZ_REPO
from resta_bench.judges.validation_items import LABELS, Label, LabelledItem, LabelledSet, detect_language
from resta_bench.judges.validation_jsonl import read_labelled_jsonl
from resta_bench.judges.validation_latent_jailbreak import (
    LATENT_JAILBREAK,
    LJ_COMMIT,
    LJ_FILE,
    LJ_GROUPS,
    LJ_HELD_OUT_GROUPS,
    LJ_REPO,
)
from resta_bench.storage.names import check_name

__all__ = [
    "BUILTIN_SETS",
    "GPTFUZZ_COMMIT",
    "GPTFUZZ_REPO",
    "LABELS",
    "LJ_COMMIT",
    "LJ_FILE",
    "LJ_GROUPS",
    "LJ_HELD_OUT_GROUPS",
    "LJ_REPO",
    "ROOT_ENV",
    "BuiltinSet",
    "Label",
    "LabelledItem",
    "LabelledSet",
    "builtin_set",
    "detect_language",
    "file_hashes",
    "load_set",
    "read_labelled_jsonl",
]

BUILTIN_SETS: dict[str, BuiltinSet] = {spec.name: spec for spec in (GPTFUZZ, LATENT_JAILBREAK)}


def builtin_set(
    name: str, split: str | None = None, *, root: str | Path | None = None, progress: bool = True
) -> LabelledSet:
    """A built-in set's split (its default split when None)."""
    if name not in BUILTIN_SETS:
        known = ", ".join(sorted(BUILTIN_SETS))
        raise JudgeError(f"unknown validation set {name!r}; built-in sets: {known}, or a .jsonl file")
    spec = BUILTIN_SETS[name]
    split = split or spec.default_split
    if split not in spec.splits:
        raise JudgeError(f"set {name!r} has no split {split!r}; its splits: {', '.join(spec.splits)}")
    folder, source = set_files(spec, root, progress=progress)
    items = tuple(spec.read(folder, split))
    return LabelledSet(f"{name}-{split}", split, items, source)


def load_set(spec: str, *, root: str | Path | None = None, progress: bool = True) -> LabelledSet:
    """``name``, ``name:split`` (a built-in set) or the path of a ``.jsonl`` file of labelled responses."""
    if spec.endswith(".jsonl") or os.sep in spec or "/" in spec:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise JudgeError(f"{path}: no such file (a labelled .jsonl set)")
        name = check_name(path.stem, f"--set {spec}")
        source = {"kind": "file", "path": str(path.resolve()), "sha256": {path.name: sha256_file(path)}}
        return LabelledSet(name, "all", tuple(read_labelled_jsonl(path)), source)
    name, _, split = spec.partition(":")
    return builtin_set(name, split or None, root=root, progress=progress)
