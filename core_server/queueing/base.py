"""What every part of the queue service shares: the engine, the bus, the RIS desk and the
clock; write transactions that journal their events; the events for rooms and tickets.

The service's jobs each live in their own module (:mod:`~core_server.queueing.setup`,
:mod:`~core_server.queueing.checkin`, :mod:`~core_server.queueing.calls`,
:mod:`~core_server.queueing.desk`, :mod:`~core_server.queueing.exam_sync`,
:mod:`~core_server.queueing.housekeeping`) as a part of
:class:`~core_server.queueing.service.QueueService` built on this base.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from core_server import db
from core_server.events import EventBus
from core_server.queueing import config, records
from core_server.queueing.exams import ExamDesk
from core_server.queueing.models import DisplaySettings, RoomState, TicketStatus
from core_server.queueing.tables import queues, rooms, tickets
from core_server.queueing.transactions import Transaction, stored_answer, transaction

Clock = Callable[[], datetime]


class ServiceBase:
    engine: Engine
    bus: EventBus
    desk: ExamDesk | None
    now: Clock
    hospital_name: str

    def _write(self, key: tuple[str, str] | None = None) -> AbstractContextManager[Transaction]:
        return transaction(self.engine, self.bus, self.now(), key)

    def _read(self) -> Any:
        return db.read(self.engine)

    def _replay_if_done(self, key: tuple[str, str]) -> None:
        with self._read() as conn:
            stored_answer(conn, key)

    def _settings(self, conn: Connection) -> DisplaySettings:
        """The display settings; an empty hospital name is the core's."""
        return config.get_settings(conn, self.hospital_name)

    def _advance_later(
        self, exam_id: int, status: str, username: str, confirmed_other_day: bool = False
    ) -> Callable[[], None]:
        def advance() -> None:
            if self.desk is not None:
                self.desk.advance(exam_id, status, username, confirmed_other_day)

        return advance

    def _room_event(self, tx: Transaction, code: str) -> None:
        room = config.room_row(tx.conn, code)
        tx.event(
            "room.updated",
            {"room": code, "state": room.state, "current_ticket_id": room.current_ticket_id},
            room=code,
        )

    def _ticket_event(self, tx: Transaction, row: Any, room_code: str = "") -> None:
        queue_code = tx.conn.execute(
            select(queues.c.code).where(queues.c.id == row.queue_id)
        ).scalar_one()
        tx.event(
            "ticket.updated",
            {
                "ticket_id": row.id,
                "number": row.number,
                "status": row.status,
                "priority": records.priority(row),
            },
            queue=queue_code,
            room=room_code,
        )

    def _rooms_of(self, tx: Transaction, ticket_id: int) -> list[Any]:
        """The rooms whose current patient this is, locked: every transaction takes room rows
        before ticket rows (as the caller actions do), so two of them cannot deadlock."""
        return list(
            tx.conn.execute(
                select(rooms).where(rooms.c.current_ticket_id == ticket_id).with_for_update()
            ).all()
        )

    def _release_room(self, tx: Transaction, ticket_id: int) -> None:
        for room in self._rooms_of(tx, ticket_id):
            tx.conn.execute(
                update(rooms)
                .where(rooms.c.id == room.id)
                .values(current_ticket_id=None, state=resting(room))
            )
            self._room_event(tx, room.code)

    def _inserted_waiting(self, conn: Connection, queue: Any, which: str) -> bool:
        """Whether a late (or returned) patient of the insert stream is waiting already."""
        column = tickets.c.late if which == "late" else tickets.c.returned
        return (
            conn.execute(
                select(tickets.c.id)
                .where(
                    tickets.c.queue_id == queue.id,
                    tickets.c.status == TicketStatus.WAITING,
                    column,
                    ~tickets.c.emergency,
                )
                .limit(1)
            ).first()
            is not None
        )

    def _return(self, tx: Transaction, row: Any, at: datetime) -> None:
        """A missed patient back into the queue (early, or when the suspension ended)."""
        queue = tx.conn.execute(select(queues).where(queues.c.id == row.queue_id)).one()
        if queue.missed_rule == "insert" and not self._inserted_waiting(tx.conn, queue, "returned"):
            tx.conn.execute(
                update(queues).where(queues.c.id == queue.id).values(regular_since_returned=0)
            )
        done = tx.conn.execute(
            update(tickets)
            .where(tickets.c.id == row.id, tickets.c.status == TicketStatus.MISSED)
            .values(status=TicketStatus.WAITING, returned=True, returned_at=at, back_at=None)
        )
        if done.rowcount:
            self._ticket_event(tx, records.ticket_row(tx.conn, row.id))


def resting(room: Any) -> str:
    """A room's state once it has no current patient."""
    return RoomState.PAUSED if room.state == RoomState.PAUSED else RoomState.IDLE


def state_with(current: Any) -> str:
    """An open room's state with ``current`` (a ticket row, or None) as its patient."""
    if current is None:
        return RoomState.IDLE
    if current.status == TicketStatus.IN_PROGRESS:
        return RoomState.BUSY
    return RoomState.CALLING if current.status == TicketStatus.CALLED else RoomState.IDLE
