"""A room's calls: call the next patient (or a chosen one), recall, missed, start, finish,
pause. Claims are conditional updates (``... WHERE status = 'waiting'``) under row locks on the
room and its queues, so two callers never get the same patient, and a room's anti-double-press
interval holds across devices and core processes.

A room's state follows its current patient: ``calling`` once a patient is called, ``busy``
while the exam runs, ``idle`` with no patient, ``paused`` when the room takes no calls.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from core_server.queueing import config, journal, ordering, records, voice
from core_server.queueing.base import ServiceBase, resting, state_with
from core_server.queueing.models import RoomState, TicketStatus
from core_server.queueing.refusals import Forbidden, QueueRefusal, invalid, not_found
from core_server.queueing.tables import calls, queues, room_queues, rooms, tickets
from core_server.queueing.transactions import Transaction

Key = tuple[str, str] | None


class Calls(ServiceBase):
    def _room_for_action(
        self, conn: Connection, code: str, allowed_room: str | None, *, calling: bool
    ) -> Any:
        if allowed_room is not None and allowed_room != code:
            raise Forbidden("not_your_room", "other", room=allowed_room)
        room = config.room_row(conn, code, lock=True)
        if calling:
            if room.state == RoomState.PAUSED:
                raise QueueRefusal("room_paused")
            last = room.last_call_at
            if last is not None:
                ready = last + timedelta(seconds=room.min_call_interval_seconds)
                if self.now() < ready:
                    wait = max(1, int((ready - self.now()).total_seconds() + 0.999))
                    raise QueueRefusal("too_soon", retry_after=wait)
        return room

    def _room_queue_rows(self, conn: Connection, room: Any) -> list[Any]:
        return list(
            conn.execute(
                select(queues)
                .join(room_queues, room_queues.c.queue_id == queues.c.id)
                .where(room_queues.c.room_id == room.id)
                .order_by(queues.c.position, queues.c.id)
                .with_for_update(of=queues)
            ).all()
        )

    def _close_current(self, tx: Transaction, room: Any, username: str, close: bool) -> None:
        if room.current_ticket_id is None:
            return
        current = records.ticket_row(tx.conn, room.current_ticket_id)
        if current is None or current.status not in (TicketStatus.CALLED, TicketStatus.IN_PROGRESS):
            return
        if not close:
            raise QueueRefusal("wrong_status", "finish_current", number=current.number)
        self._finish_ticket(tx, room, current, username)

    def call_next(
        self,
        room_code: str,
        *,
        username: str,
        close_current: bool = True,
        allowed_room: str | None = None,
        key: Key = None,
    ) -> dict[str, Any]:
        with self._write(key) as tx:
            conn = tx.conn
            room = self._room_for_action(conn, room_code, allowed_room, calling=True)
            queue_rows = self._room_queue_rows(conn, room)
            self._close_current(tx, room, username, close_current)
            claimed = self._claim_next(conn, room, queue_rows)
            if claimed is None:
                if room.current_ticket_id is None or not close_current:
                    raise QueueRefusal("no_waiting_patient")
                body = self._action_body(tx, room.code, None)
                # The current patient was closed all the same: an answer, with a notice.
                body["notice"] = {"code": "no_waiting_patient"}
            else:
                queue, candidate = claimed
                row = self._after_claim(tx, room, queue, candidate, username, recall=False)
                body = self._action_body(tx, room.code, row)
            tx.remember(200, body)
        return body

    def _claim_next(
        self, conn: Connection, room: Any, queue_rows: list[Any]
    ) -> tuple[Any, Any] | None:
        """The first waiting patient of the room's queues (heads compared by the ordering
        rules), claimed; another room's claim in between moves on to the next."""
        today = records.day_of(self.now())
        lines = [(q, records.ordered(conn, q, today)) for q in queue_rows]
        while True:
            heads = [
                (i, records.waiting(rows[0]), records.rules(q))
                for i, (q, rows) in enumerate(lines)
                if rows
            ]
            pick = ordering.first_of([(w, r) for _, w, r in heads])
            if pick is None:
                return None
            queue, rows = lines[heads[pick][0]]
            candidate = rows.pop(0)
            if self._claim(conn, candidate.id, room, (TicketStatus.WAITING,)):
                return queue, candidate

    def call_ticket(
        self,
        room_code: str,
        ticket_id: int,
        *,
        username: str,
        close_current: bool = True,
        allowed_room: str | None = None,
        key: Key = None,
    ) -> dict[str, Any]:
        """Call a chosen patient (from the waiting or missed list) into this room."""
        with self._write(key) as tx:
            conn = tx.conn
            room = self._room_for_action(conn, room_code, allowed_room, calling=True)
            queue_rows = {q.id: q for q in self._room_queue_rows(conn, room)}
            ticket = records.ticket_row(conn, ticket_id)
            if ticket is None:
                raise not_found("ticket", str(ticket_id))
            if ticket.queue_id not in queue_rows:
                raise invalid("not_in_room", number=ticket.number)
            if room.current_ticket_id == ticket.id:
                raise QueueRefusal("wrong_status", "here_already", number=ticket.number)
            self._close_current(tx, room, username, close_current)
            if not self._claim(conn, ticket.id, room, (TicketStatus.WAITING, TicketStatus.MISSED)):
                now_row = records.ticket_row(conn, ticket.id)
                if now_row is not None and now_row.status in (
                    TicketStatus.CALLED,
                    TicketStatus.IN_PROGRESS,
                ):
                    raise QueueRefusal("ticket_taken", number=ticket.number)
                raise QueueRefusal("wrong_status", "cannot_call", number=ticket.number)
            row = self._after_claim(
                tx, room, queue_rows[ticket.queue_id], ticket, username, recall=False
            )
            body = self._action_body(tx, room.code, row)
            tx.remember(200, body)
        return body

    def _claim(
        self, conn: Connection, ticket_id: int, room: Any, statuses: tuple[str, ...]
    ) -> bool:
        done = conn.execute(
            update(tickets)
            .where(tickets.c.id == ticket_id, tickets.c.status.in_(statuses), tickets.c.is_open)
            .values(
                status=TicketStatus.CALLED,
                room_id=room.id,
                called_at=self.now(),
                call_count=tickets.c.call_count + 1,
                back_at=None,
            )
        )
        return done.rowcount == 1

    def _after_claim(
        self, tx: Transaction, room: Any, queue: Any, ticket: Any, username: str, *, recall: bool
    ) -> Any:
        """The call itself: counters of the ordering rules, the room (calling), the words to
        speak, the call's row and its ``ticket.called`` event."""
        conn = tx.conn
        now = self.now()
        if not recall:
            rules = records.rules(queue)
            since_late, since_returned = ordering.counters_after_call(
                ordering.kind(records.waiting(ticket), rules), rules
            )
            conn.execute(
                update(queues)
                .where(queues.c.id == queue.id)
                .values(regular_since_late=since_late, regular_since_returned=since_returned)
            )
        conn.execute(
            update(rooms)
            .where(rooms.c.id == room.id)
            .values(
                last_call_at=now,
                current_ticket_id=ticket.id,
                state=RoomState.PAUSED if room.state == RoomState.PAUSED else RoomState.CALLING,
            )
        )
        row = records.ticket_row(conn, ticket.id)
        assert row is not None
        text = voice.render(
            queue.voice_template,
            number=row.number,
            name=voice.spoken_name(row.patient_name, self._settings(conn).voice_name),
            room=room.name,
            queue=queue.name,
        )
        call_id = conn.execute(
            insert(calls).values(
                ticket_id=row.id,
                room_id=room.id,
                queue_id=queue.id,
                called_at=now,
                recall=recall,
                voice_text=text,
                called_by=username,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        tx.event(
            "ticket.called",
            {
                "ticket_id": row.id,
                "number": row.number,
                "name": records.masked_name(row.patient_name),
                "room_name": room.name,
                "voice_text": text,
                "repeat": queue.voice_repeat,
                "call_id": call_id,
                "recall": recall,
            },
            queue=queue.code,
            room=room.code,
        )
        self._room_event(tx, room.code)
        return row

    def _current(self, conn: Connection, room: Any, statuses: tuple[str, ...]) -> Any:
        row = records.ticket_row(conn, room.current_ticket_id) if room.current_ticket_id else None
        if row is None or row.status not in statuses:
            raise QueueRefusal("no_current_patient")
        return row

    def _on_current(
        self,
        room_code: str,
        allowed_room: str | None,
        key: Key,
        statuses: tuple[str, ...],
        step: Callable[[Transaction, Any, Any], Any],
        *,
        calling: bool = False,
    ) -> dict[str, Any]:
        """The shape of every action on the room's current patient: lock the room, take its
        current ticket in one of ``statuses``, ``step`` it, answer the room and the ticket (the
        answer remembered for an idempotent resend)."""
        with self._write(key) as tx:
            room = self._room_for_action(tx.conn, room_code, allowed_room, calling=calling)
            row = step(tx, room, self._current(tx.conn, room, statuses))
            body = self._action_body(tx, room.code, row)
            tx.remember(200, body)
        return body

    def recall(
        self, room_code: str, *, username: str, allowed_room: str | None = None, key: Key = None
    ) -> dict[str, Any]:
        def step(tx: Transaction, room: Any, current: Any) -> Any:
            tx.conn.execute(
                update(tickets)
                .where(tickets.c.id == current.id)
                .values(called_at=self.now(), call_count=tickets.c.call_count + 1)
            )
            queue = tx.conn.execute(select(queues).where(queues.c.id == current.queue_id)).one()
            return self._after_claim(tx, room, queue, current, username, recall=True)

        return self._on_current(
            room_code, allowed_room, key, (TicketStatus.CALLED,), step, calling=True
        )

    def missed(
        self, room_code: str, *, username: str, allowed_room: str | None = None, key: Key = None
    ) -> dict[str, Any]:
        """The called patient did not come: suspended for the queue's time, then back in the
        queue; closed as absent after the queue's ``missed_max`` misses."""
        return self._on_current(room_code, allowed_room, key, (TicketStatus.CALLED,), self._miss)

    def _miss(self, tx: Transaction, room: Any, current: Any) -> Any:
        conn = tx.conn
        queue = conn.execute(select(queues).where(queues.c.id == current.queue_id)).one()
        misses = current.missed_count + 1
        values: dict[str, Any] = {"missed_count": misses}
        if misses >= queue.missed_max:
            values.update(status=TicketStatus.ABSENT, is_open=False, finished_at=self.now())
        else:
            back = self.now() + timedelta(minutes=queue.missed_suspend_minutes)
            values.update(status=TicketStatus.MISSED, back_at=back)
        conn.execute(update(tickets).where(tickets.c.id == current.id).values(**values))
        conn.execute(
            update(rooms)
            .where(rooms.c.id == room.id)
            .values(current_ticket_id=None, state=resting(room))
        )
        row = records.ticket_row(conn, current.id)
        self._ticket_event(tx, row, room.code)
        self._room_event(tx, room.code)
        return row

    def start(
        self, room_code: str, *, username: str, allowed_room: str | None = None, key: Key = None
    ) -> dict[str, Any]:
        def step(tx: Transaction, room: Any, current: Any) -> Any:
            tx.conn.execute(
                update(tickets)
                .where(tickets.c.id == current.id)
                .values(status=TicketStatus.IN_PROGRESS, started_at=self.now())
            )
            if room.state != RoomState.PAUSED:
                tx.conn.execute(
                    update(rooms).where(rooms.c.id == room.id).values(state=RoomState.BUSY)
                )
            row = records.ticket_row(tx.conn, current.id)
            self._ticket_event(tx, row, room.code)
            self._room_event(tx, room.code)
            if row.exam_id is not None:
                tx.after_commit.append(self._advance_later(row.exam_id, "in_progress", username))
            return row

        return self._on_current(room_code, allowed_room, key, (TicketStatus.CALLED,), step)

    def finish(
        self, room_code: str, *, username: str, allowed_room: str | None = None, key: Key = None
    ) -> dict[str, Any]:
        def step(tx: Transaction, room: Any, current: Any) -> Any:
            return self._finish_ticket(tx, room, current, username)

        statuses = (TicketStatus.CALLED, TicketStatus.IN_PROGRESS)
        return self._on_current(room_code, allowed_room, key, statuses, step)

    def _finish_ticket(self, tx: Transaction, room: Any, current: Any, username: str) -> Any:
        conn = tx.conn
        conn.execute(
            update(tickets)
            .where(tickets.c.id == current.id)
            .values(status=TicketStatus.FINISHED, is_open=False, finished_at=self.now())
        )
        conn.execute(
            update(rooms)
            .where(rooms.c.id == room.id)
            .values(current_ticket_id=None, state=resting(room))
        )
        row = records.ticket_row(conn, current.id)
        self._ticket_event(tx, row, room.code)
        self._room_event(tx, room.code)
        if row.exam_id is not None:
            tx.after_commit.append(self._advance_later(row.exam_id, "completed", username))
        return row

    def pause(
        self, room_code: str, *, username: str, paused: bool = True, allowed_room: str | None = None
    ) -> dict[str, Any]:
        with self._write() as tx:
            room = self._room_for_action(tx.conn, room_code, allowed_room, calling=False)
            current = (
                records.ticket_row(tx.conn, room.current_ticket_id)
                if room.current_ticket_id
                else None
            )
            state = RoomState.PAUSED if paused else state_with(current)
            if state != room.state:
                tx.conn.execute(update(rooms).where(rooms.c.id == room.id).values(state=state))
                self._room_event(tx, room.code)
            return self._action_body(tx, room.code, current)

    def _action_body(self, tx: Transaction, room_code: str, row: Any) -> dict[str, Any]:
        room = config.get_room(tx.conn, room_code)
        return {
            "seq": tx.seq or journal.latest(tx.conn),
            "room": records.room_dict(room),
            "ticket": records.to_ticket(tx.conn, row).as_dict() if row is not None else None,
        }
