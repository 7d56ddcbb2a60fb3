"""The event journal: every change a screen or caller must hear about, numbered without gaps.

An event is written in the same transaction as the change it reports, with the next number of
a one-row counter (``UPDATE ... RETURNING`` holds that row's lock until commit, so numbers are
handed out in commit order on PostgreSQL too). A reader that has seen event *n* therefore never
misses one by reading ``seq > n`` later, whichever core process wrote it: the WebSocket feed and
a reconnecting client rely on that.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from core_server.queueing.tables import event_counter, events

# The bus topic a writer publishes on after its commit: {"seq": newest, "events": [Event...]}.
TOPIC = "queueing.journal"
# How much history a reconnecting client can replay.
KEEP_EVENTS = 10_000
KEEP_DAYS = 2


@dataclass(frozen=True)
class Event:
    seq: int
    type: str
    time: datetime
    queue: str
    room: str
    payload: dict[str, Any]

    def as_message(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "type": self.type,
            "time": self.time.isoformat(),
            "queue": self.queue,
            "room": self.room,
            "payload": self.payload,
        }


def append(
    conn: Connection, type_: str, payload: dict[str, Any], *, queue: str = "", room: str = ""
) -> Event:
    seq = conn.execute(
        update(event_counter)
        .where(event_counter.c.id == 1)
        .values(seq=event_counter.c.seq + 1)
        .returning(event_counter.c.seq)
    ).scalar_one()
    text = json.dumps(payload, ensure_ascii=False, default=str)
    now = datetime.now(UTC)
    conn.execute(
        insert(events).values(
            seq=seq, type=type_, queue=queue, room=room, payload=text, created_at=now
        )
    )
    # As a reader of the journal will see it (the payload through JSON).
    return Event(int(seq), type_, now, queue, room, json.loads(text))


def latest(conn: Connection) -> int:
    return int(
        conn.execute(select(event_counter.c.seq).where(event_counter.c.id == 1)).scalar_one()
    )


def oldest(conn: Connection) -> int | None:
    value = conn.execute(select(func.min(events.c.seq))).scalar()
    return None if value is None else int(value)


def since(conn: Connection, seq: int, limit: int = 1000) -> list[Event]:
    rows = conn.execute(
        select(events).where(events.c.seq > seq).order_by(events.c.seq).limit(limit)
    )
    return [
        Event(
            seq=int(r.seq),
            type=r.type,
            time=r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC),
            queue=r.queue,
            room=r.room,
            payload=json.loads(r.payload),
        )
        for r in rows
    ]


def can_replay(conn: Connection, after: int) -> bool:
    """Whether every event after ``after`` is still kept."""
    newest = latest(conn)
    if after >= newest:
        return after == newest
    first = oldest(conn)
    return first is not None and first <= after + 1


def prune(conn: Connection) -> int:
    """Forget events beyond the newest KEEP_EVENTS or older than KEEP_DAYS."""
    newest = latest(conn)
    cutoff = datetime.now(UTC) - timedelta(days=KEEP_DAYS)
    done = conn.execute(
        delete(events).where(
            (events.c.seq <= newest - KEEP_EVENTS) | (events.c.created_at < cutoff)
        )
    )
    return int(done.rowcount or 0)
