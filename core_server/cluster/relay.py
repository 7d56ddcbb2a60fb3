"""The bus across nodes (PostgreSQL): a crossing topic's event is written to
``cluster_events`` and announced by ``NOTIFY core_events, '<id>'`` in the same transaction;
every node LISTENs on a connection of its own and hands the rows of the other nodes to its
remote (fan-out) subscribers (:meth:`EventBus.deliver_remote`).

Rows are written one transaction at a time (an advisory transaction lock), so ids commit in
order and a reader that has seen id *n* misses nothing by reading ``id > n`` later: after a
reconnect the listener reads every row after the last it saw, and it also reads every
``poll_seconds`` in case a notification went astray. Rows older than ``keep`` are pruned.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import Engine, delete, func, insert, select, text

from core_server import clock, db
from core_server.cluster.locks import key_of, new_node_name
from core_server.cluster.tables import cluster_events
from core_server.events import EventBus

log = logging.getLogger(__name__)
CHANNEL = "core_events"
WRITE_KEY = key_of("cluster_events")
BATCH = 500


class Relay:
    def __init__(
        self,
        engine: Engine,
        bus: EventBus,
        *,
        node: str | None = None,
        poll_seconds: float = 5.0,
        keep: timedelta = timedelta(hours=1),
    ) -> None:
        self.engine, self.bus = engine, bus
        self.node = node or new_node_name()
        self.poll_seconds, self.keep = poll_seconds, keep
        self.last_id = 0
        self.received = 0  # rows of other nodes handed to the bus
        self.reconnects = 0
        self.listener_pid: int | None = None  # the LISTEN session's backend (for the tests)
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection[Any] | None = None

    @property
    def enabled(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def start(self) -> None:
        if not self.enabled or self._thread is not None:
            return
        with db.read(self.engine) as conn:
            self.last_id = int(conn.execute(select(func.max(cluster_events.c.id))).scalar() or 0)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="cluster-relay", daemon=True)
        self._thread.start()
        self._listening.wait(30)
        self.bus.outward = self.send

    def stop(self) -> None:
        if self._thread is None:
            return
        self.bus.outward = None
        self._stop.set()
        self._thread.join(timeout=10)
        self._thread = None

    def send(self, topic: str, payload: dict[str, Any]) -> int:
        """Writes and announces one event for the other nodes; its id."""
        body = json.dumps(payload, ensure_ascii=False, default=_plain)
        with db.write(self.engine) as conn:
            db.serialize_writes(conn, WRITE_KEY)
            event_id = conn.execute(
                insert(cluster_events)
                .values(node=self.node, topic=topic, payload=body, created_at=clock.now())
                .returning(cluster_events.c.id)
            ).scalar_one()
            conn.execute(text("SELECT pg_notify(:c, :id)"), {"c": CHANNEL, "id": str(event_id)})
        return int(event_id)

    def catch_up(self) -> int:
        """Hands over every row after the last one seen; how many came from other nodes."""
        handed = 0
        while True:
            with db.read(self.engine) as conn:
                rows = conn.execute(
                    select(cluster_events)
                    .where(cluster_events.c.id > self.last_id)
                    .order_by(cluster_events.c.id)
                    .limit(BATCH)
                ).all()
            for row in rows:
                self.last_id = int(row.id)
                if row.node == self.node:
                    continue
                self.bus.deliver_remote(row.topic, json.loads(row.payload))
                handed += 1
            self.received += handed
            if len(rows) < BATCH:
                return handed

    def prune(self) -> int:
        with db.write(self.engine, durable=False) as conn:
            done = conn.execute(
                delete(cluster_events).where(cluster_events.c.created_at < clock.now() - self.keep)
            )
        return int(done.rowcount or 0)

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                self._listen()
                backoff = 0.5
            except Exception:
                if self._stop.is_set():
                    break
                self.reconnects += 1
                log.warning("cluster relay: LISTEN lost; again in %.1f s", backoff, exc_info=True)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
        self._listening.set()

    def _listen(self) -> None:
        url = self.engine.url.set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            self.listener_pid = conn.info.backend_pid
            self.catch_up()  # after LISTEN: whatever came meanwhile is read or announced
            self._listening.set()
            since_read = since_prune = 0.0
            while not self._stop.is_set():
                woken = any(True for _ in conn.notifies(timeout=1.0, stop_after=1))
                since_read += 1.0 if not woken else 0.0
                since_prune += 1.0
                if woken or since_read >= self.poll_seconds:
                    self.catch_up()
                    since_read = 0.0
                if since_prune >= 300:
                    self.prune()
                    since_prune = 0.0


def _plain(value: Any) -> Any:
    """JSON for what payloads hold besides JSON: dataclasses (journal events), times, sets."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)
