"""The SQLite judge cache: keys, round trips, concurrent writers in separate processes."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from resta_bench.judges import Judgment
from resta_bench.judges.cache import JudgmentCache
from resta_bench.judges.errors import JudgeError


def judgment(verdict: str = "harmful", prompt_hash: str = "p1", judge_id: str = "j") -> Judgment:
    return Judgment(verdict, f"raw {verdict}", judge_id, "m", prompt_hash, {"attempts": 1})


def test_round_trip_is_keyed_by_judge_prompt_question_and_response(tmp_path: Path) -> None:
    with JudgmentCache(tmp_path / "c.sqlite") as cache:
        cache.put("q", "r", judgment())
        found = cache.get_many("j", "p1", [("q", "r"), ("q", "other"), ("Q", "r")])
        assert list(found) == [("q", "r")]
        assert found[("q", "r")].verdict == "harmful" and found[("q", "r")].meta == {
            "attempts": 1,
            "cached": True,
        }
        assert cache.get_many("j", "p2", [("q", "r")]) == {}
        assert cache.get_many("other-judge", "p1", [("q", "r")]) == {}
        cache.put("q", "r", judgment("safe"))  # the first verdict stays
        assert cache.get_many("j", "p1", [("q", "r")])[("q", "r")].verdict == "harmful"


def _writer(path: str, worker: int) -> None:
    with JudgmentCache(path) as cache:
        for i in range(150):
            # Overlapping keys across workers: every worker writes items 0-99, plus 50 of its own.
            key = i if i < 100 else f"{worker}-{i}"
            cache.put(f"question {key}", "response", judgment())


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite")
    JudgmentCache(path).close()
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_writer, args=(path, w)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    with JudgmentCache(path) as cache:
        assert cache.count() == 100 + 4 * 50


def test_unreadable_cache_is_a_user_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(JudgeError, match="bad.sqlite: cannot open the judge cache"):
        JudgmentCache(bad)
