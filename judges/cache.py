"""The judge cache: an embedded SQLite database of verdicts already paid for.

Keyed by (judge id, scope, question, response), where the scope (:attr:`Judge.cache_scope`) covers
everything besides the item that can change a verdict: for a model judge the endpoint, the model, the
prompt and parser, the decoding settings and the judge's version. A verdict from another server, model
or prompt is never reused. The database runs in WAL mode with a busy timeout, so several processes (or
threads with their own connection) may write at once; every verdict is committed as it arrives, so a
run killed at any moment loses nothing it had been told and repeats nothing on resume. A failed write
(a full disk) is a :class:`JudgeError` naming the file, and leaves the database as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
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

_UPSERT = """
INSERT INTO judgments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET
    verdict = excluded.verdict, raw = excluded.raw, model = excluded.model,
    prompt_hash = excluded.prompt_hash, meta = excluded.meta, created = excluded.created
WHERE judgments.verdict = 'invalid'
"""

# SQLite caps the number of host parameters in one statement; stay well below it.
_LOOKUP_CHUNK = 500


def default_cache_path() -> Path:
    """``$RESTA_JUDGE_CACHE``, else ``$XDG_CACHE_HOME/resta-bench/judges.sqlite`` (XDG default ~/.cache)."""
    if os.environ.get("RESTA_JUDGE_CACHE"):
        return Path(os.environ["RESTA_JUDGE_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "resta-bench" / "judges.sqlite"


def cache_key(judge_id: str, scope: str, question: str, response: str) -> str:
    parts = (judge_id, scope, question, response)
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


class JudgmentCache:
    """Verdicts by (judge id, scope, question, response). Use one instance per thread."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 60.0) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # SQLite creates its files 0644 whatever the umask. Created here first, the database gets the
            # mode the umask allows (a group-shared cache stays group-writable), and its -wal and -shm
            # files copy that mode.
            os.close(os.open(self.path, os.O_RDONLY | os.O_CREAT, 0o666))
        except OSError as error:
            raise JudgeError(f"{self.path}: cannot open the judge cache ({error.strerror})") from None
        with self._reporting("open"):
            self._db = sqlite3.connect(self.path, timeout=busy_timeout_s)
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable against a killed process in WAL mode (only a power cut can lose the tail).
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)

    @contextmanager
    def _reporting(self, doing: str) -> Iterator[None]:
        """SQLite's errors (a full disk, a lock held past the timeout, a damaged file) as one JudgeError line;
        sqlite3 raises its own classes, not OSError, so the command line's ENOSPC handling misses them."""
        try:
            yield
        except sqlite3.Error as error:
            raise JudgeError(f"{self.path}: cannot {doing} the judge cache ({error})") from None

    def close(self) -> None:
        with self._reporting("close"):
            self._db.close()

    def __enter__(self) -> JudgmentCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get_many(
        self, judge_id: str, scope: str, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], Judgment]:
        """Cached judgments for those (question, response) pairs that have one."""
        key_to_pair = {cache_key(judge_id, scope, q, r): (q, r) for q, r in pairs}
        keys = list(key_to_pair)
        found: dict[tuple[str, str], Judgment] = {}
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start : start + _LOOKUP_CHUNK]
            with self._reporting("read"):
                rows = self._db.execute(
                    "SELECT key, verdict, raw, model, prompt_hash, meta FROM judgments "
                    f"WHERE key IN ({','.join('?' * len(chunk))})",
                    chunk,
                ).fetchall()
            for key, verdict, raw, model, prompt_hash, meta in rows:
                found[key_to_pair[key]] = Judgment(
                    verdict=verdict,
                    raw=raw,
                    judge_id=judge_id,
                    model=model,
                    prompt_hash=prompt_hash,
                    meta={**json.loads(meta), "cached": True},
                )
        return found

    def put(self, scope: str, question: str, response: str, judgment: Judgment) -> None:
        """Store one verdict under ``scope``; see :meth:`put_many`."""
        self.put_many(scope, [(question, response, judgment)])

    def put_many(self, scope: str, entries: Iterable[tuple[str, str, Judgment]]) -> None:
        """Store verdicts. An existing verdict for the same key wins (both answered the same request);
        an existing ``invalid`` gives way, since a later run only asks again when it may ask more often."""
        rows = [
            (
                cache_key(j.judge_id, scope, question, response),
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
        with self._reporting("write"), self._db:
            self._db.executemany(_UPSERT, rows)

    def count(self, judge_id: str | None = None) -> int:
        where, arguments = ("", ()) if judge_id is None else (" WHERE judge_id = ?", (judge_id,))
        with self._reporting("read"):
            return self._db.execute(f"SELECT COUNT(*) FROM judgments{where}", arguments).fetchone()[0]
