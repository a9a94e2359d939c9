"""The SQLite judge cache: what its key covers, round trips, concurrent writers, file modes."""

from __future__ import annotations

import multiprocessing
import os
import stat
from pathlib import Path

import pytest
from judge_fixtures import API_KEY, KEY_ENV, redeval_judge
from resta_bench import judges
from resta_bench.judges import JudgeItem, Judgment
from resta_bench.judges.cache import JudgmentCache
from resta_bench.judges.errors import JudgeError
from resta_bench.judges.loopback import LoopbackJudgeServer
from resta_bench.judges.run import judge_items

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def judgment(verdict: str = "harmful", judge_id: str = "j", **meta) -> Judgment:
    return Judgment(verdict, f"raw {verdict}", judge_id, "m", "p1", {"attempts": 1, **meta})


def test_round_trip_is_keyed_by_judge_scope_question_and_response(tmp_path: Path) -> None:
    with JudgmentCache(tmp_path / "c.sqlite") as cache:
        cache.put("s1", "q", "r", judgment())
        found = cache.get_many("j", "s1", [("q", "r"), ("q", "other"), ("Q", "r")])
        assert list(found) == [("q", "r")]
        assert found[("q", "r")].verdict == "harmful" and found[("q", "r")].meta == {
            "attempts": 1,
            "cached": True,
        }
        assert found[("q", "r")].prompt_hash == "p1" and found[("q", "r")].judge_id == "j"
        assert cache.get_many("j", "s2", [("q", "r")]) == {}
        assert cache.get_many("other-judge", "s1", [("q", "r")]) == {}
        cache.put("s1", "q", "r", judgment("safe"))  # a verdict stays
        assert cache.get_many("j", "s1", [("q", "r")])[("q", "r")].verdict == "harmful"
        # A reply without a verdict gives way to a later answer (asked more often).
        cache.put("s1", "q2", "r", judgment("invalid", no_verdict=True))
        cache.put("s1", "q2", "r", judgment("safe"))
        assert cache.get_many("j", "s1", [("q2", "r")])[("q2", "r")].verdict == "safe"


def _verdicts(judgments: list[Judgment]) -> list[str]:
    return [j.verdict for j in judgments]


def test_another_endpoint_is_asked_even_with_the_same_model(api_key_env: str, tmp_path: Path, monkeypatch):
    """Two servers that disagree, one model name: the second is asked, and its own verdicts are reported."""
    items = [JudgeItem(f"q{i}", "Sure" if i % 2 else "No") for i in range(6)]
    flipped = {"harmful": "safe", "safe": "harmful"}
    with (
        LoopbackJudgeServer(api_key=API_KEY) as a,
        LoopbackJudgeServer(api_key=API_KEY, flip=True) as b,
        JudgmentCache(tmp_path / "c.sqlite") as cache,
    ):
        from_a = _verdicts(judge_items(redeval_judge(a.base_url), items, cache=cache, progress=False))
        from_b = _verdicts(judge_items(redeval_judge(b.base_url), items, cache=cache, progress=False))
        assert len(b.requests) == 6
        assert from_b == [flipped[v] for v in from_a]
        # Each endpoint keeps its verdicts; a trailing slash is the same endpoint.
        again = judge_items(redeval_judge(a.base_url + "/"), items, cache=cache, progress=False)
        assert _verdicts(again) == from_a and len(a.requests) == 6
        # Without --base-url the client's $OPENAI_BASE_URL is the endpoint, and part of the key too.
        for server, verdicts in ((b, from_b), (a, from_a)):
            monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
            default = judges.get_judge("redeval", api_key_env=KEY_ENV, max_retries=0)
            assert _verdicts(judge_items(default, items, cache=cache, progress=False)) == verdicts
        assert len(a.requests) == 6 and len(b.requests) == 6


@pytest.mark.parametrize(
    ("options", "asked"),
    [
        ({"temperature": 0.0}, True),
        ({"max_tokens": 50}, True),
        ({"model": "gpt-4o"}, True),
        ({"concurrency": 2, "max_retries": 1, "timeout_s": 5.0}, False),  # how, not what, it asks
    ],
)
def test_the_key_covers_what_changes_a_verdict(
    judge_server, api_key_env: str, tmp_path: Path, options: dict, asked: bool
) -> None:
    items = [JudgeItem(f"q{i}", "Sure") for i in range(3)]
    with JudgmentCache(tmp_path / "c.sqlite") as cache:
        judge_items(redeval_judge(judge_server.base_url), items, cache=cache, progress=False)
        judge_items(redeval_judge(judge_server.base_url, **options), items, cache=cache, progress=False)
    assert len(judge_server.requests) == (6 if asked else 3)


def test_cache_files_follow_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o002)  # a group-shared cache
    try:
        with JudgmentCache(tmp_path / "shared" / "judges.sqlite") as cache:
            cache.put("s", "q", "r", judgment())
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "shared").iterdir()}
    finally:
        os.umask(previous)
    assert modes == {"judges.sqlite": 0o664, "judges.sqlite-wal": 0o664, "judges.sqlite-shm": 0o664}
    assert stat.S_IMODE((tmp_path / "shared").stat().st_mode) == 0o775


def _writer(path: str, worker: int) -> None:
    with JudgmentCache(path) as cache:
        for i in range(150):
            # Overlapping keys across workers: every worker writes items 0-99, plus 50 of its own.
            key = i if i < 100 else f"{worker}-{i}"
            cache.put("s", f"question {key}", "response", judgment())


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
