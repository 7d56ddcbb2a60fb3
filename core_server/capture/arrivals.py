"""Images arriving in a study, pushed to browsers (the report editor's image strip).

The archive publishes ``archive.instance_stored`` on the in-process bus for every stored
object; browsers hear only journal events (``/api/ws``, the queueing journal, shared by every
core process). One journal row per object would add a write to every C-STORE of a 1,000-slice
CT, so arrivals are gathered per study and written every ``interval`` seconds as one event
``archive.study_images`` ``{"study_instance_uid", "instances"}`` (instances: how many arrived
since the last one). A page showing that study then reloads its images."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from sqlalchemy import Engine

from core_server import db
from core_server.events import EventBus
from core_server.periodic import Periodic
from core_server.queueing import journal

STORED = "archive.instance_stored"
EVENT = "archive.study_images"


class StudyArrivals:
    def __init__(self, engine: Engine, bus: EventBus, interval: float = 0.5) -> None:
        self.engine = engine
        self.bus = bus
        self._pending: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.ticker = Periodic("study-arrivals", interval, self.flush)
        bus.subscribe(STORED, self._on_stored)

    def _on_stored(self, _topic: str, payload: dict[str, Any]) -> None:
        study = str(payload.get("study_instance_uid") or "")
        if study:
            with self._lock:
                self._pending[study] += 1

    def flush(self) -> int:
        """Write the gathered arrivals as journal events; how many studies were told."""
        with self._lock:
            pending, self._pending = self._pending, Counter()
        if not pending:
            return 0
        with db.write(self.engine, durable=False) as conn:
            events = [
                journal.append(conn, EVENT, {"study_instance_uid": study, "instances": count})
                for study, count in sorted(pending.items())
            ]
        self.bus.publish(journal.TOPIC, {"seq": events[-1].seq, "events": events})
        return len(events)

    def start(self) -> None:
        self.ticker.start()

    def stop(self) -> None:
        self.ticker.stop()
        self.ticker.run_once()  # what arrived in the last half second is still told
