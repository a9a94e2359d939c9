"""Fixtures for the judge tests: a loopback chat-completions server, its key, lm-eval-shaped run folders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from judge_fixtures import API_KEY, KEY_ENV, build_run_dir
from resta_bench.judges.loopback import LoopbackJudgeServer


@pytest.fixture
def judge_server() -> Iterator[LoopbackJudgeServer]:
    with LoopbackJudgeServer(api_key=API_KEY, stall_s=2.0) as server:
        yield server


@pytest.fixture
def api_key_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    return KEY_ENV


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return build_run_dir(tmp_path / "results")
