"""The live feed of journal events for this process's WebSocket clients.

A writer of this process hands its committed events over at once (the bus, after the commit):
when they follow the last delivered one they go straight to the listeners, without a database
read. Otherwise (another writer's commit came first, or other core processes wrote: they share
the database) the feed's thread reads the journal after the last event it delivered, when
woken and every ``poll_seconds``. Another node's commit wakes it too: the feed hears the
journal topic with ``remote=True``, so the cluster relay hands it the other nodes' commits
(``docs/cluster-state.md``) within milliseconds instead of the next poll. Listeners get events
strictly in sequence order, each once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from core_server import db
from core_server.events import EventBus
from core_server.periodic import Periodic
from core_server.queueing import journal
from core_server.queueing.journal import TOPIC, Event

log = logging.getLogger(__name__)

Listener = Callable[[Event], None]


class EventFeed:
    def __init__(self, engine: Engine, bus: EventBus, poll_seconds: float = 1.0) -> None:
        self.engine = engine
        self.poll_seconds = poll_seconds
        self._ticker = Periodic("queue-feed", poll_seconds, self._deliver)
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._delivering = threading.Lock()  # one deliverer at a time keeps the order
        self.delivered = 0
        bus.subscribe(TOPIC, self._on_commit, remote=True)

    def _on_commit(self, _topic: str, payload: dict[str, Any]) -> None:
        events: list[Event] = payload.get("events") or []
        if events and not isinstance(events[0], Event):  # another node's: read the journal
            self._ticker.wake()
            return
        with self._delivering:
            if self._ticker.running and events and events[0].seq == self.delivered + 1:
                self._hand_out(events)
                return
        self._ticker.wake()

    def add(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def start(self) -> None:
        with db.read(self.engine) as conn:
            self.delivered = journal.latest(conn)
        self._ticker.start()

    def stop(self) -> None:
        self._ticker.stop()

    def _deliver(self) -> None:
        while True:
            with self._delivering:
                with db.read(self.engine) as conn:
                    batch = journal.since(conn, self.delivered)
                if not batch:
                    return
                self._hand_out(batch)

    def _hand_out(self, batch: list[Event]) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for event in batch:
            for listener in listeners:
                try:
                    listener(event)
                except Exception:
                    log.exception("queue event listener failed")
            self.delivered = event.seq
