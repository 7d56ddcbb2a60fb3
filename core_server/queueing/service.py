"""The queue service: one per core process (built in ``core_server.server``), made of its jobs:

- :class:`~core_server.queueing.setup.Setup`: rooms, queues, screens, settings, the RIS's rooms;
- :class:`~core_server.queueing.checkin.CheckIn` (with
  :class:`~core_server.queueing.exam_sync.ExamSync`): tickets, and keeping them in step with
  the RIS's exams;
- :class:`~core_server.queueing.calls.Calls`: a room's calls and its state;
- :class:`~core_server.queueing.desk.TicketChanges`: priority, cancel, early return;
- :class:`~core_server.queueing.housekeeping.Housekeeping`: the ticker and the live feed;
- the read-only views below (:mod:`~core_server.queueing.views`).

Every action is one database transaction that also writes its events to the journal; after
the commit they go to the WebSocket feed (see :mod:`~core_server.queueing.transactions` and
:mod:`~core_server.queueing.feed`), and steps on the RIS (exam arrived, in progress, completed)
follow.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, insert, select

from core_server import clock, db
from core_server.events import EventBus
from core_server.queueing import records, views
from core_server.queueing.base import Clock
from core_server.queueing.calls import Calls
from core_server.queueing.desk import TicketChanges
from core_server.queueing.exam_sync import ExamSync
from core_server.queueing.exams import ExamDesk
from core_server.queueing.feed import EventFeed
from core_server.queueing.housekeeping import Housekeeping
from core_server.queueing.journal import TOPIC
from core_server.queueing.models import Ticket
from core_server.queueing.setup import Setup
from core_server.queueing.tables import event_counter


class QueueService(Setup, ExamSync, Calls, TicketChanges, Housekeeping):
    def __init__(
        self,
        engine: Engine,
        bus: EventBus,
        desk: ExamDesk | None = None,
        clock: Clock | None = None,
        *,
        hospital_name: str = "",
    ) -> None:
        """``hospital_name``: the core's (``--hospital-name``), shown where the queue's own
        display setting leaves it empty."""
        self.engine = engine
        self.bus = bus
        self.desk = desk
        self.now = clock or _now
        self.hospital_name = hospital_name
        self.feed = EventFeed(engine, bus)
        with db.write(engine) as conn:
            if conn.execute(select(event_counter.c.id)).first() is None:
                conn.execute(insert(event_counter).values(id=1, seq=0))

    # -- what screens, callers and tickets show ----------------------------------------------

    def ticket(self, ticket_id: int) -> Ticket:
        with self._read() as conn:
            return views.ticket(conn, ticket_id)

    def queue_tickets(self, code: str, status: str | None = None) -> list[Ticket]:
        """The day's tickets of a queue; waiting ones in calling order."""
        with self._read() as conn:
            return views.queue_tickets(conn, code, status, self.now())

    def print_ticket(self, ticket_id: int) -> dict[str, Any]:
        with self._read() as conn:
            row = records.ticket_row_or_404(conn, ticket_id)
            return views.print_ticket(conn, row, self._settings(conn), new=False)

    def screen_state(self, code: str) -> dict[str, Any]:
        with self._read() as conn:
            return views.screen_state(conn, code, self.now(), self._settings(conn))

    def room_state(self, code: str) -> dict[str, Any]:
        with self._read() as conn:
            return views.room_state(conn, code, self.now())


def _now() -> Any:
    return clock.now()


__all__ = ["TOPIC", "QueueService"]
