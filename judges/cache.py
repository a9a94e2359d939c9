"""The judge cache: an embedded SQLite database of verdicts already paid for.

Keyed by (judge id, prompt hash, question, response), so a changed prompt or model never reuses an
old verdict. The database runs in WAL mode with a busy timeout, so several processes (or threads with
their own connection) may write at once; every verdict is committed as it arrives, so a run killed at
any moment loses nothing it had been told and repeats nothing on resume.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from resta_bench.judges.base import Judgment
from resta_bench.judges.errors import JudgeError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS judgments (
    key         TEXT PRIMARY KEY,
    judge_id    TEXT NOT NULL,
    prompt_hash TEXT NOT NULL,
    question    TEXT NOT NULL,
    response    TEXT NOT NULL,
    verdict     TEXT NOT NULL,
    raw         TEXT NOT NULL,
    model       TEXT,
    meta        TEXT NOT NULL,
    created     REAL NOT NULL
)
"""

# SQLite caps the number of host parameters in one statement; stay well below it.
_LOOKUP_CHUNK = 500


def default_cache_path() -> Path:
    """``$RESTA_JUDGE_CACHE``, else ``$XDG_CACHE_HOME/resta-bench/judges.sqlite`` (XDG default ~/.cache)."""
    if os.environ.get("RESTA_JUDGE_CACHE"):
        return Path(os.environ["RESTA_JUDGE_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "resta-bench" / "judges.sqlite"


def cache_key(judge_id: str, prompt_hash: str, question: str, response: str) -> str:
    parts = (judge_id, prompt_hash, question, response)
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


class JudgmentCache:
    """Verdicts by (judge id, prompt hash, question, response). Use one instance per thread."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 60.0) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=busy_timeout_s)
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable against a killed process in WAL mode (only a power cut can lose the tail).
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
        except (OSError, sqlite3.DatabaseError) as error:
            raise JudgeError(f"{self.path}: cannot open the judge cache ({error})") from error

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> JudgmentCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get_many(
        self, judge_id: str, prompt_hash: str, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], Judgment]:
        """Cached judgments for those (question, response) pairs that have one."""
        key_to_pair = {cache_key(judge_id, prompt_hash, q, r): (q, r) for q, r in pairs}
        keys = list(key_to_pair)
        found: dict[tuple[str, str], Judgment] = {}
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start : start + _LOOKUP_CHUNK]
            rows = self._db.execute(
                "SELECT key, verdict, raw, model, meta FROM judgments "
                f"WHERE key IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for key, verdict, raw, model, meta in rows:
                found[key_to_pair[key]] = Judgment(
                    verdict=verdict,
                    raw=raw,
                    judge_id=judge_id,
                    model=model,
                    prompt_hash=prompt_hash,
                    meta={**json.loads(meta), "cached": True},
                )
        return found

    def put(self, question: str, response: str, judgment: Judgment) -> None:
        """Store one verdict; an existing entry for the same key wins (both came from the same request)."""
        self.put_many([(question, response, judgment)])

    def put_many(self, entries: Iterable[tuple[str, str, Judgment]]) -> None:
        rows = [
            (
                cache_key(j.judge_id, j.prompt_hash, question, response),
                j.judge_id,
                j.prompt_hash,
                question,
                response,
                j.verdict,
                j.raw,
                j.model,
                json.dumps(j.meta, ensure_ascii=False),
                time.time(),
            )
            for question, response, j in entries
        ]
        # One transaction per call, committed before returning: what put_many returned from survives a kill.
        with self._db:
            self._db.executemany(
                "INSERT OR IGNORE INTO judgments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
            )

    def count(self, judge_id: str | None = None) -> int:
        if judge_id is None:
            return self._db.execute("SELECT COUNT(*) FROM judgments").fetchone()[0]
        return self._db.execute("SELECT COUNT(*) FROM judgments WHERE judge_id = ?", (judge_id,)).fetchone()[
            0
        ]
