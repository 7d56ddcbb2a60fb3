"""An on-disk spool for actions that must survive a lost network or a restart.

Each action gets an idempotency key when it is spooled and keeps it for every attempt, so the
core applies it once however often it is sent (a crash between "sent" and "removed" resends
it). Actions are replayed strictly in the order they were taken. SQLite (stdlib) with
``synchronous=FULL``: an action is on disk before ``add`` returns.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS actions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    body TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT ''
)
"""


@dataclass(frozen=True)
class Action:
    seq: int
    key: str
    kind: str  # what it is in the program's words ("call_next", "print_ticket"...)
    method: str
    path: str
    body: dict[str, Any]
    created: float
    expires: float | None
    attempts: int
    last_error: str


class Outcome(Enum):
    DONE = "done"  # the core accepted it (2xx): removed
    REFUSED = "refused"  # the core answered no for good (4xx): removed, shown to the user
    RETRY = "retry"  # the core is unreachable or failing (transport error, 5xx): kept


@dataclass(frozen=True)
class Result:
    action: Action
    outcome: Outcome
    answer: Any = None  # the core's JSON answer (DONE) or refusal message (REFUSED)


class Spool:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(
        self,
        kind: str,
        method: str,
        path: str,
        body: dict[str, Any],
        ttl: float | None = None,
    ) -> Action:
        """Spool an action; ``ttl`` seconds after which replaying it makes no sense any more
        (a call nobody hears), None for actions that must always reach the core."""
        now = time.time()
        key = uuid.uuid4().hex
        expires = now + ttl if ttl is not None else None
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO actions (key, kind, method, path, body, created, expires)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, kind, method, path, json.dumps(body, ensure_ascii=False), now, expires),
            )
        seq = cursor.lastrowid
        assert seq is not None
        return Action(seq, key, kind, method, path, body, now, expires, 0, "")

    def pending(self) -> list[Action]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, key, kind, method, path, body, created, expires, attempts,"
                " last_error FROM actions ORDER BY seq"
            ).fetchall()
        return [
            Action(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7], r[8], r[9])
            for r in rows
        ]

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM actions").fetchone()[0])

    def remove(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM actions WHERE key = ?", (key,))

    def failed(self, key: str, error: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE actions SET attempts = attempts + 1, last_error = ? WHERE key = ?",
                (error[:500], key),
            )

    def replay(self, send: Callable[[Action], Result]) -> tuple[list[Result], list[Action]]:
        """Send pending actions in order until one must be retried.

        Returns what was settled (done or refused) and what expired unsent. ``send`` returns
        a Result; an exception from it counts as RETRY (the action is kept)."""
        settled: list[Result] = []
        expired: list[Action] = []
        for action in self.pending():
            if action.expires is not None and action.expires < time.time():
                self.remove(action.key)
                expired.append(action)
                continue
            try:
                result = send(action)
            except Exception as error:  # any failure keeps the action
                result = Result(action, Outcome.RETRY, repr(error))
            if result.outcome is Outcome.RETRY:
                self.failed(action.key, str(result.answer))
                break
            self.remove(action.key)
            settled.append(result)
        return settled, expired
