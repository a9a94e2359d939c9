"""A disk that fills up while judging: one line, exit 2, and a cache and store that the next run resumes from.

The disk is a real 1 MiB tmpfs (mounting needs root; the tests are skipped where it cannot be mounted).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from judge_fixtures import build_run_dir
from resta_bench.benchmark.cli import main
from resta_bench.judges.cache import JudgmentCache

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture
def small_disk(mount_small_disk) -> Path:
    return mount_small_disk("1m")


def fill(disk: Path, *, leave: int) -> Path:
    """A file that takes all but ``leave`` bytes of the disk's free space."""
    status = os.statvfs(disk)
    filler = disk / "filler"
    filler.write_bytes(b"\0" * max(0, status.f_bavail * status.f_frsize - leave))
    return filler


def judge_argv(run: Path, server, key_env: str, cache: Path) -> list[str]:
    options = ["--base-url", server.base_url, "--api-key-env", key_env, "--concurrency", "2"]
    return ["judge", str(run), "--judge", "redeval", *options, "--cache", str(cache), "--quiet"]


def asked_questions(requests) -> set[str]:
    return {re.search(r"Question: (.*)\nResponseA:", r.text).group(1) for r in requests}


def judgments_of(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "judgments" / "redeval-gpt-4.jsonl").read_text().splitlines()]


def test_a_full_disk_under_the_cache_ends_with_one_line_and_resumes(
    small_disk: Path, run_dir: Path, judge_server, api_key_env: str, capsys
) -> None:
    cache = small_disk / "judges.sqlite"
    JudgmentCache(cache).close()
    filler = fill(small_disk, leave=96 * 1024)  # room for a few verdicts
    argv = judge_argv(run_dir, judge_server, api_key_env, cache)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{cache}: cannot write the judge cache (database or disk is full)" in err[0], (
        err
    )
    assert not (run_dir / "judgments").exists()  # nothing half-written
    with closing(sqlite3.connect(cache)) as db:  # still a sound database, holding what it was told
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        told = {question for (question,) in db.execute("SELECT question FROM judgments")}
    assert 0 < len(told) < 42

    filler.unlink()
    seen = len(judge_server.requests)
    assert main(argv) == 0
    asked_again = asked_questions(judge_server.requests[seen:])
    assert asked_again.isdisjoint(told)
    lines = judgments_of(run_dir)
    assert len(lines) == 42 and told | asked_again == {line["question"] for line in lines}


def test_a_full_disk_under_the_judgments_ends_with_one_line_and_resumes(
    small_disk: Path, tmp_path: Path, judge_server, api_key_env: str, capsys
) -> None:
    run = build_run_dir(small_disk / "results")
    cache = tmp_path / "cache.sqlite"
    filler = fill(small_disk, leave=8 * 1024)  # room for the store's lock note, not for 42 judgments
    argv = judge_argv(run, judge_server, api_key_env, cache)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "redeval-gpt-4.jsonl" in err[0] and "No space left on device" in err[0], err
    assert list((run / "judgments").glob("*")) == []  # no partial or temporary file
    assert len(judge_server.requests) == 42

    filler.unlink()
    assert main(argv) == 0
    assert len(judge_server.requests) == 42  # every verdict came from the cache
    assert len(judgments_of(run)) == 42
