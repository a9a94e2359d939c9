"""A ``resta judge`` process killed midway resumes without asking again for what it had been told,
and the API key never reaches a file or an output stream."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from judge_fixtures import API_KEY, KEY_ENV, build_run_dir
from resta_bench.judges.loopback import LoopbackJudgeServer


def asked_questions(requests) -> set[str]:
    return {re.search(r"Question: (.*)\nResponseA:", r.text).group(1) for r in requests}


def cached_questions(cache_path: Path) -> set[str]:
    with sqlite3.connect(cache_path) as db:
        return {question for (question,) in db.execute("SELECT question FROM judgments")}


def test_killed_run_resumes_with_no_repeated_request(tmp_path: Path) -> None:
    run = build_run_dir(tmp_path / "results")
    cache_path = tmp_path / "cache" / "judges.sqlite"
    env = {**os.environ, KEY_ENV: API_KEY}
    with LoopbackJudgeServer(api_key=API_KEY, delay_s=0.05) as server:
        argv = [sys.executable, "-m", "resta_bench.benchmark.cli", "judge", str(run), "--judge", "redeval"]
        argv += ["--base-url", server.base_url, "--api-key-env", KEY_ENV, "--concurrency", "2"]
        argv += ["--cache", str(cache_path)]
        first = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while len(server.answered()) < 12 and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert first.poll() is None, "the first run ended before it could be killed"
        first.kill()
        first_out, first_err = first.communicate()
        told = cached_questions(cache_path)
        assert 0 < len(told) < 42
        assert not (run / "judgments" / "redeval-gpt-4.jsonl").exists()  # nothing half-written

        seen_before = len(server.requests)
        verbose = [*argv[:3], "-v", *argv[3:]]  # debug logs of the HTTP client must not show the key either
        second = subprocess.run(verbose, env=env, capture_output=True, timeout=180)
        assert second.returncode == 0, second.stderr.decode()
        asked_again = asked_questions(server.requests[seen_before:])

    assert asked_again.isdisjoint(told)
    lines = [
        json.loads(line) for line in (run / "judgments" / "redeval-gpt-4.jsonl").read_text().splitlines()
    ]
    assert len(lines) == 42 and len({(x["task"], x["doc_id"]) for x in lines}) == 42
    assert told | asked_again == {x["question"] for x in lines}
    assert all(x["verdict"] in ("harmful", "safe") for x in lines)

    secret = API_KEY.encode()
    for stream in (first_out, first_err, second.stdout, second.stderr):
        assert secret not in stream
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert secret not in path.read_bytes(), path
