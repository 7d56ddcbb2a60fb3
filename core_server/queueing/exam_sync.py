"""Tickets kept in step with exams moved elsewhere (registration desk, MPPS, HL7): the RIS's
``exam status changed`` event issues a ticket for an arrived exam, marks one in progress, and
closes it when the exam ends or is cancelled."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update

from core_server.queueing import records
from core_server.queueing.checkin import CheckIn
from core_server.queueing.models import RoomState, TicketStatus
from core_server.queueing.refusals import QueueRefusal
from core_server.queueing.tables import rooms, tickets

log = logging.getLogger(__name__)

_DONE = ("completed", "reported", "verified")


class ExamSync(CheckIn):
    """On check-in: an arrived exam gets its ticket as the desk's check-in would issue it."""

    def on_exam_status_changed(self, _topic: str, payload: dict[str, Any]) -> None:
        exam_id = payload.get("exam_id")
        status = payload.get("new_status")
        username = str(payload.get("username") or "ris")
        if exam_id is None or status is None:
            return
        with self._read() as conn:
            ticket = conn.execute(
                select(tickets).where(tickets.c.exam_id == exam_id, tickets.c.is_open)
            ).first()
        if status == "arrived" and ticket is None:
            self._issue_for_arrival(int(exam_id), username)
        elif ticket is None:
            return
        elif status == "in_progress" and ticket.status != TicketStatus.IN_PROGRESS:
            self._started_elsewhere(ticket)
        elif status in (*_DONE, "cancelled", "no_show"):
            self._closed_elsewhere(
                ticket, TicketStatus.FINISHED if status in _DONE else TicketStatus.CANCELLED
            )

    def _issue_for_arrival(self, exam_id: int, username: str) -> None:
        exam = self.desk.exam(exam_id) if self.desk is not None else None
        if exam is None:
            return
        try:
            self.issue(exam, username=username)
        except QueueRefusal as exc:
            log.info("arrived exam %s gets no ticket: %s", exam_id, exc.text("en"))

    def _started_elsewhere(self, ticket: Any) -> None:
        with self._write() as tx:
            current_in = self._rooms_of(tx, ticket.id)
            tx.conn.execute(
                update(tickets)
                .where(tickets.c.id == ticket.id, tickets.c.is_open)
                .values(status=TicketStatus.IN_PROGRESS, started_at=self.now(), back_at=None)
            )
            for room in current_in:
                if room.state in (RoomState.IDLE, RoomState.CALLING):
                    tx.conn.execute(
                        update(rooms).where(rooms.c.id == room.id).values(state=RoomState.BUSY)
                    )
                    self._room_event(tx, room.code)
            self._ticket_event(tx, records.ticket_row(tx.conn, ticket.id))

    def _closed_elsewhere(self, ticket: Any, closed: str) -> None:
        with self._write() as tx:
            self._rooms_of(tx, ticket.id)
            tx.conn.execute(
                update(tickets)
                .where(tickets.c.id == ticket.id, tickets.c.is_open)
                .values(status=closed, is_open=False, finished_at=self.now())
            )
            self._release_room(tx, ticket.id)
            self._ticket_event(tx, records.ticket_row(tx.conn, ticket.id))
