"""Retention of the HL7 tables: the inbound log and delivered outbound jobs older than the
retention period (setting ``hl7_retention_days``; 0 keeps them for ever) are removed by the
housekeeping ticker (:class:`core_server.periodic.Periodic`, looking every few seconds, purging
at most once an hour: the first time soon after start), in small transactions so that the
listener and the sender are never held up for long.

What is kept whatever its age: inbound messages without a final answer (``processing``,
``failed``: the administrator may still reprocess them) and jobs not delivered (``pending``,
``sending``, ``dead``: the administrator may still send them again).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table, and_, delete, select

from core_server import clock, db
from core_server.hl7.tables import hl7_inbound_messages as inbound
from core_server.hl7.tables import hl7_outbound_jobs as jobs
from core_server.periodic import Periodic

log = logging.getLogger(__name__)

# inbound messages whose ACK is final (refused: a sender not allowed)
ANSWERED = ("accepted", "error", "rejected", "refused")
BATCH = 1000  # rows removed per transaction
INTERVAL_SECONDS = 3600.0
TICK_SECONDS = 5.0  # how often the ticker asks whether a purge is due


def purge(engine: Engine, older_than: datetime) -> tuple[int, int]:
    """Remove answered inbound messages received, and jobs delivered, before ``older_than``;
    (inbound messages removed, jobs removed)."""
    old_messages = and_(inbound.c.received_at < older_than, inbound.c.status.in_(ANSWERED))
    delivered = and_(jobs.c.status == "sent", jobs.c.sent_at < older_than)
    return _delete(engine, inbound, old_messages), _delete(engine, jobs, delivered)


def _delete(engine: Engine, table: Table, condition: Any) -> int:
    removed = 0
    while True:
        batch = select(table.c.id).where(condition).order_by(table.c.id).limit(BATCH)
        with db.write(engine) as conn:
            count = conn.execute(
                delete(table).where(table.c.id.in_(batch.scalar_subquery()))
            ).rowcount
        removed += count
        if count < BATCH:
            return removed


class Housekeeping:
    """Called by the ticker; does the purge when ``retention_days`` > 0 and ``interval``
    seconds have passed since the last one (the first call of a start too)."""

    def __init__(
        self, engine: Engine, retention_days: float, interval: float = INTERVAL_SECONDS
    ) -> None:
        self.engine = engine
        self.retention_days = retention_days
        self.interval = interval
        self._due = 0.0

    def __call__(self) -> tuple[int, int] | None:
        if self.retention_days <= 0 or time.monotonic() < self._due:
            return None
        self._due = time.monotonic() + self.interval
        cutoff = clock.now() - timedelta(days=self.retention_days)
        removed = purge(self.engine, cutoff)
        if any(removed):
            log.info(
                "HL7 housekeeping: %d inbound messages and %d delivered jobs older than %s days "
                "removed",
                *removed,
                self.retention_days,
            )
        return removed


def ticker(housekeeping: Housekeeping) -> Periodic:
    """The thread that runs the housekeeping (started and stopped with the HL7 service)."""
    return Periodic("hl7-housekeeping", TICK_SECONDS, housekeeping, cluster=housekeeping.engine)
