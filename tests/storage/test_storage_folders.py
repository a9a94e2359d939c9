"""``storage.folders``: which output folders are refused, and what a staged output leaves when it fails or
when a killed writer left its staging or the previous output behind."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from resta_bench.storage.errors import StorageError
from resta_bench.storage.folders import MARKER, check_output, staged_output


@pytest.fixture
def layout(tmp_path) -> Path:
    """An input model folder, a link to it, a file, a user's folder and a folder resta wrote."""
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "w.safetensors").write_text("w")
    (tmp_path / "link").symlink_to(tmp_path / "model")
    (tmp_path / "file").write_text("x")
    (tmp_path / "users").mkdir()
    (tmp_path / "users" / "notes.txt").write_text("mine")
    (tmp_path / "ours").mkdir()
    (tmp_path / "ours" / MARKER).write_text("{}")
    (tmp_path / "empty").mkdir()
    return tmp_path


@pytest.mark.parametrize(
    ("out", "overwrite", "refusal"),
    [
        ("link", True, "is a symbolic link"),
        ("file", True, "exists and is not a folder"),
        (".", True, "contains the input --model"),
        ("model", True, "is also the input --model"),
        ("model/sub", True, "lies inside the input --model"),
        ("users", False, "already exists (pass --overwrite to replace it)"),
        ("users", True, f"not a folder resta wrote (no {MARKER})"),
        ("ours", False, "already exists"),
        ("ours", True, None),
        ("empty", False, None),
        ("new/deeper", False, None),
    ],
)
def test_which_outputs_are_refused(layout, out, overwrite, refusal):
    inputs = {"--model": layout / "link"}  # an input given through a link is the folder it names
    if refusal is None:
        assert check_output(layout / out, overwrite=overwrite, inputs=inputs) == (layout / out).resolve()
        return
    with pytest.raises(StorageError, match=f"^--out {re.escape(str(layout))}.*: {re.escape(refusal)}"):
        check_output(layout / out, overwrite=overwrite, inputs=inputs)


def test_a_failed_output_keeps_the_previous_one_and_leaves_nothing(layout):
    (layout / "ours" / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), staged_output(layout / "ours", overwrite=True, kind="test") as staging:
        (staging / "new.txt").write_text("new")
        raise RuntimeError("the run failed")
    assert sorted(p.name for p in (layout / "ours").iterdir()) == [MARKER, "old.txt"]
    with staged_output(layout / "ours", overwrite=True, kind="test") as staging:
        (staging / "new.txt").write_text("new")
    assert sorted(p.name for p in (layout / "ours").iterdir()) == [MARKER, "new.txt"]
    assert sorted(p.name for p in layout.glob(".ours.*")) == [".ours.lock"]


def test_a_swap_cut_short_restores_the_previous_output(layout, caplog):
    retired = layout / ".ours.4242.retired"  # a writer killed between its two renames left this
    (layout / "ours").rename(retired)
    with caplog.at_level(logging.WARNING), pytest.raises(StorageError, match="already exists"):
        with staged_output(layout / "ours", overwrite=False, kind="test"):
            pass
    assert (layout / "ours" / MARKER).is_file() and not retired.exists()
    [said] = [r.getMessage() for r in caplog.records]
    assert (
        said == f"{layout / 'ours'}: restored the previous output, which an interrupted run had moved aside"
    )
