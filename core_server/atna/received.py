"""Instances received (C-STORE, STOW-RS, capture, import) into the audit trail.

The archive publishes ``archive.instance_stored`` per instance and writes no audit entry; an
audit message per instance would drown the repository, so arrivals are summed per study,
channel and sender and written as one ``archive.received`` entry every few seconds (and at
stop). What a crash loses is that last summary, never an image."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from sqlalchemy import Engine

from core_server.auth import record_audit
from core_server.events import EventBus
from core_server.periodic import Periodic

TOPIC = "archive.instance_stored"


class Arrivals:
    def __init__(self, engine: Engine, bus: EventBus, interval: float = 5.0) -> None:
        self.engine = engine
        self._counts: Counter[tuple[str, str, str]] = Counter()
        self._lock = threading.Lock()
        self.ticker = Periodic("atna-arrivals", interval, self.flush)
        bus.subscribe(TOPIC, self.on_stored)

    def on_stored(self, _topic: str, payload: dict[str, Any]) -> None:
        key = (
            str(payload.get("study_instance_uid", "")),
            str(payload.get("channel", "")),
            str(payload.get("ae_title", "")),
        )
        with self._lock:
            self._counts[key] += 1

    def flush(self) -> None:
        with self._lock:
            counts, self._counts = self._counts, Counter()
        for (study, channel, ae_title), instances in sorted(counts.items()):
            record_audit(
                self.engine,
                username=None,
                action="archive.received",
                target=f"study:{study}",
                detail={"channel": channel, "ae_title": ae_title, "instances": instances},
            )

    def start(self) -> None:
        self.ticker.start()

    def stop(self) -> None:
        self.ticker.stop()
        self.flush()
