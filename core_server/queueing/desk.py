"""What the registration desk (and the room's staff) change on a ticket: its priority, a
cancellation, a missed patient's early return."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection, update

from core_server.queueing import records
from core_server.queueing.base import ServiceBase
from core_server.queueing.checkin import check_priority
from core_server.queueing.models import Ticket, TicketStatus
from core_server.queueing.refusals import QueueRefusal, not_found
from core_server.queueing.tables import tickets

log = logging.getLogger(__name__)


class TicketChanges(ServiceBase):
    def set_priority(self, ticket_id: int, priority: str | None) -> Ticket:
        check_priority(priority)
        with self._write() as tx:
            row = self._open_ticket(tx.conn, ticket_id)
            values = (
                {"emergency": True}
                if priority == "emergency"
                else {"emergency": False, "priority_group": priority}
            )
            tx.conn.execute(update(tickets).where(tickets.c.id == row.id).values(**values))
            row = records.ticket_row(tx.conn, row.id)
            self._ticket_event(tx, row)
            return records.to_ticket(tx.conn, row)

    def cancel(self, ticket_id: int, *, username: str) -> Ticket:
        with self._write() as tx:
            self._rooms_of(tx, ticket_id)
            row = self._open_ticket(tx.conn, ticket_id)
            tx.conn.execute(
                update(tickets)
                .where(tickets.c.id == row.id)
                .values(status=TicketStatus.CANCELLED, is_open=False, finished_at=self.now())
            )
            self._release_room(tx, row.id)
            row = records.ticket_row(tx.conn, row.id)
            self._ticket_event(tx, row)
            log.info("ticket %s cancelled by %s", row.number, username)
            return records.to_ticket(tx.conn, row)

    def return_early(self, ticket_id: int) -> Ticket:
        """A missed patient came back before the suspension ended."""
        with self._write() as tx:
            row = self._open_ticket(tx.conn, ticket_id)
            if row.status != TicketStatus.MISSED:
                raise QueueRefusal("wrong_status", "not_missed", number=row.number)
            self._return(tx, row, self.now())
            return records.to_ticket(tx.conn, records.ticket_row(tx.conn, row.id))

    def _open_ticket(self, conn: Connection, ticket_id: int) -> Any:
        row = records.ticket_row(conn, ticket_id)
        if row is None:
            raise not_found("ticket", str(ticket_id))
        if not row.is_open:
            raise QueueRefusal("wrong_status", "closed", number=row.number)
        return row
