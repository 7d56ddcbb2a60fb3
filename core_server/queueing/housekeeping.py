"""The queue's background work, one :class:`~core_server.periodic.Periodic` ticker a second:
missed patients whose suspension ended go back into their queue; once a minute earlier days'
open tickets close (numbers restart daily); once an hour old idempotency keys and journal events
are forgotten. The live event feed starts and stops with it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, update

from core_server import db
from core_server.periodic import Periodic
from core_server.queueing import journal, records
from core_server.queueing.base import ServiceBase
from core_server.queueing.feed import EventFeed
from core_server.queueing.models import TicketStatus
from core_server.queueing.tables import idempotency_keys, tickets
from core_server.queueing.transactions import IDEMPOTENCY_HOURS


class Housekeeping(ServiceBase):
    feed: EventFeed
    _ticker: Periodic | None = None
    _ticks: int = 0

    def return_due(self) -> int:
        """Missed patients whose suspension has ended go back into their queue."""
        now = self.now()
        with self._read() as conn:
            due = conn.execute(
                select(tickets.c.id)
                .where(tickets.c.status == TicketStatus.MISSED, tickets.c.back_at <= now)
                .limit(1)
            ).first()
        if due is None:
            return 0
        with self._write() as tx:
            rows = tx.conn.execute(
                select(tickets)
                .where(tickets.c.status == TicketStatus.MISSED, tickets.c.back_at <= now)
                .order_by(tickets.c.back_at, tickets.c.id)
            ).all()
            for row in rows:
                self._return(tx, row, row.back_at or now)
            return len(rows)

    def close_past_days(self) -> int:
        """Tickets of earlier days still open are closed as absent (numbers restart daily)."""
        today = records.day_of(self.now())
        with self._read() as conn:
            stale = conn.execute(
                select(tickets.c.id)
                .where(tickets.c.is_open, tickets.c.service_day < today)
                .limit(1)
            ).first()
        if stale is None:
            return 0
        with self._write() as tx:
            ids = list(
                tx.conn.execute(
                    select(tickets.c.id).where(tickets.c.is_open, tickets.c.service_day < today)
                ).scalars()
            )
            for ticket_id in ids:
                self._release_room(tx, ticket_id)
            tx.conn.execute(
                update(tickets)
                .where(tickets.c.id.in_(ids))
                .values(status=TicketStatus.ABSENT, is_open=False, finished_at=self.now())
            )
            tx.event("config.updated", {"what": "day", "code": today.isoformat()})
            return len(ids)

    def housekeeping(self) -> None:
        """Forget idempotency keys after 48 h and journal events beyond what a reconnecting
        client may still ask for."""
        cutoff = self.now() - timedelta(hours=IDEMPOTENCY_HOURS)
        with db.write(self.engine) as conn:
            conn.execute(delete(idempotency_keys).where(idempotency_keys.c.created_at < cutoff))
            journal.prune(conn)

    def tick(self) -> None:
        """One round of the ticker."""
        self._ticks += 1
        self.return_due()
        if self._ticks % 60 == 1:
            self.close_past_days()
        if self._ticks % 3600 == 1:
            self.housekeeping()

    def start_background(self, interval: float = 1.0) -> None:
        """The live event feed and the ticker."""
        self.feed.start()
        self._ticks = 0
        self._ticker = Periodic("queue-ticker", interval, self.tick, cluster=self.engine)
        self._ticker.start()

    def stop_background(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        self.feed.stop()
