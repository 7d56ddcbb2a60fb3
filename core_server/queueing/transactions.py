"""Write transactions of the queue service: the events they journal are handed to the feed
after the commit, steps that must follow the commit (RIS status changes) run then, and an
idempotency key makes a resent action answer what the first one did instead of acting again."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core_server import db
from core_server.events import EventBus
from core_server.queueing import journal
from core_server.queueing.journal import TOPIC
from core_server.queueing.tables import idempotency_keys

log = logging.getLogger(__name__)

# How long a device's spool may resend an action and get the first answer.
IDEMPOTENCY_HOURS = 48


class Replayed(Exception):
    """Not an error: a resent action (same idempotency key) did not act again; ``status`` and
    ``body`` are the first answer, for the adapter to send again."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


@dataclass
class Transaction:
    conn: Connection
    key: tuple[str, str] | None = None
    seq: int = 0
    events: list[journal.Event] = field(default_factory=list)
    after_commit: list[Callable[[], None]] = field(default_factory=list)

    def event(
        self, type_: str, payload: dict[str, Any], *, queue: str = "", room: str = ""
    ) -> None:
        event = journal.append(self.conn, type_, payload, queue=queue, room=room)
        self.events.append(event)
        self.seq = event.seq

    def remember(self, status: int, body: dict[str, Any]) -> None:
        """Keep the answer with the idempotency key, in this same transaction."""
        if self.key is not None:
            self.conn.execute(
                update(idempotency_keys)
                .where(
                    idempotency_keys.c.username == self.key[0],
                    idempotency_keys.c.key == self.key[1],
                )
                .values(status_code=status, body=json.dumps(body, ensure_ascii=False, default=str))
            )


@contextmanager
def transaction(
    engine: Engine, bus: EventBus, now: datetime, key: tuple[str, str] | None = None
) -> Iterator[Transaction]:
    """A write transaction journaling its events; with an idempotency key (user, key) a resend
    raises :class:`Replayed` with the first answer instead of acting again."""
    with db.write(engine) as conn:
        tx = Transaction(conn, key)
        if key is not None:
            _claim_key(conn, key, now)
        yield tx
    if tx.seq:
        bus.publish(TOPIC, {"seq": tx.seq, "events": tx.events})
    for step in tx.after_commit:
        try:
            step()
        except Exception:
            log.exception("after-commit step of a queue action failed")


def _claim_key(conn: Connection, key: tuple[str, str], now: datetime) -> None:
    builder = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    values = {"username": key[0], "key": key[1], "status_code": 0, "body": "{}", "created_at": now}
    # A concurrent transaction holding the same key makes this wait for its outcome.
    claimed = conn.execute(
        builder(idempotency_keys)
        .values(**values)
        .on_conflict_do_nothing()
        .returning(idempotency_keys.c.key)
    ).first()
    if claimed is None:
        stored_answer(conn, key)


def stored_answer(conn: Connection, key: tuple[str, str]) -> None:
    """Raise :class:`Replayed` when an action with this key was done already."""
    row = conn.execute(
        select(idempotency_keys).where(
            idempotency_keys.c.username == key[0], idempotency_keys.c.key == key[1]
        )
    ).first()
    if row is not None and row.status_code:
        raise Replayed(row.status_code, json.loads(row.body))
