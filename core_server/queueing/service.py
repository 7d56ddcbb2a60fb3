"""The queue service: check-in, calls, room states, and what screens and callers show.

Every action is one database transaction that also writes its events to the journal; after
the commit they go to the WebSocket feed (see :mod:`~core_server.queueing.transactions` and
:mod:`~core_server.queueing.feed`), and steps on the RIS (exam arrived, in progress, completed)
follow.
Claims are conditional updates (``... WHERE status = 'waiting'``) under row locks on the room
and its queues, so two callers never get the same patient, and a room's anti-double-press
interval holds across devices and core processes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from core_server import db
from core_server.events import EventBus
from core_server.queueing import config, journal, ordering, records, views, voice
from core_server.queueing.exams import ExamDesk
from core_server.queueing.feed import EventFeed
from core_server.queueing.journal import TOPIC
from core_server.queueing.masking import mask_name
from core_server.queueing.models import (
    PRIORITY_GROUPS,
    DisplaySettings,
    ExamInfo,
    Forbidden,
    Invalid,
    NotFound,
    Queue,
    QueueError,
    Room,
    RoomState,
    Screen,
    Ticket,
    TicketStatus,
    not_found,
)
from core_server.queueing.tables import (
    calls,
    event_counter,
    idempotency_keys,
    queues,
    room_queues,
    rooms,
    tickets,
)
from core_server.queueing.transactions import (
    IDEMPOTENCY_HOURS,
    Transaction,
    stored_answer,
    transaction,
)

log = logging.getLogger(__name__)


Clock = Callable[[], datetime]


def _refusal(code: str, zh: str, en: str, **extra: Any) -> QueueError:
    return QueueError(code, zh, en, **extra)


class QueueService:
    def __init__(
        self,
        engine: Engine,
        bus: EventBus,
        desk: ExamDesk | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.engine = engine
        self.bus = bus
        self.desk = desk
        self.now: Clock = clock or (lambda: datetime.now(UTC))
        self.feed = EventFeed(engine, bus)
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()
        with db.write(engine) as conn:
            if conn.execute(select(event_counter.c.id)).first() is None:
                conn.execute(insert(event_counter).values(id=1, seq=0))

    # -- transactions ----------------------------------------------------------------------

    def _write(self, key: tuple[str, str] | None = None) -> AbstractContextManager[Transaction]:
        return transaction(self.engine, self.bus, self.now(), key)

    def _replay_if_done(self, key: tuple[str, str]) -> None:
        with self._read() as conn:
            stored_answer(conn, key)

    # -- administration ----------------------------------------------------------------------

    def _read(self) -> Any:
        return db.read(self.engine)

    def rooms(self) -> list[Room]:
        with self._read() as conn:
            return config.list_rooms(conn)

    def room(self, code: str) -> Room:
        with self._read() as conn:
            return config.get_room(conn, code)

    def save_room(self, room: Room, *, create: bool) -> Room:
        with self._write() as tx:
            saved = config.save_room(tx.conn, room, create=create)
            tx.event("config.updated", {"what": "room", "code": room.code}, room=room.code)
        return saved

    def delete_room(self, code: str) -> None:
        with self._write() as tx:
            config.delete_room(tx.conn, code)
            tx.event("config.updated", {"what": "room", "code": code}, room=code)

    def queues(self) -> list[Queue]:
        with self._read() as conn:
            return config.list_queues(conn)

    def queue(self, code: str) -> Queue:
        with self._read() as conn:
            return config.get_queue(conn, code)

    def save_queue(self, queue: Queue, *, create: bool) -> Queue:
        with self._write() as tx:
            saved = config.save_queue(tx.conn, queue, create=create)
            tx.event("config.updated", {"what": "queue", "code": queue.code}, queue=queue.code)
        return saved

    def delete_queue(self, code: str) -> None:
        with self._write() as tx:
            config.delete_queue(tx.conn, code)
            tx.event("config.updated", {"what": "queue", "code": code}, queue=code)

    def screens(self) -> list[Screen]:
        with self._read() as conn:
            return config.list_screens(conn)

    def screen(self, code: str) -> Screen:
        with self._read() as conn:
            return config.get_screen(conn, code)

    def save_screen(self, screen: Screen, *, create: bool) -> Screen:
        with self._write() as tx:
            saved = config.save_screen(tx.conn, screen, create=create)
            tx.event("config.updated", {"what": "screen", "code": screen.code})
        return saved

    def delete_screen(self, code: str) -> None:
        with self._write() as tx:
            config.delete_screen(tx.conn, code)
            tx.event("config.updated", {"what": "screen", "code": code})

    def settings(self) -> DisplaySettings:
        with self._read() as conn:
            return config.get_settings(conn)

    def save_settings(self, new: DisplaySettings) -> DisplaySettings:
        with self._write() as tx:
            saved = config.save_settings(tx.conn, new)
            tx.event("config.updated", {"what": "settings", "code": ""})
        return saved

    def save_logo(self, data: bytes, content_type: str) -> None:
        with self._write() as tx:
            config.save_logo(tx.conn, data, content_type)
            tx.event("config.updated", {"what": "settings", "code": "logo"})

    def logo(self) -> tuple[bytes, str] | None:
        with self._read() as conn:
            return config.get_logo(conn)

    def journal_config_change(self, what: str, code: str) -> None:
        """Tell screens and callers something they show changed (e.g. a device was added)."""
        with self._write() as tx:
            tx.event("config.updated", {"what": what, "code": code})

    # -- check-in ----------------------------------------------------------------------------

    def check_in(
        self,
        *,
        username: str,
        barcode: str = "",
        exam_id: int | None = None,
        accession: str = "",
        queue: str | None = None,
        priority: str | None = None,
        allowed_queues: tuple[str, ...] = (),
        key: tuple[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """Tickets for the exams a scanned code (or exam id / accession) names: ``(201, body)``
        when a new ticket was issued, ``(200, body)`` when every exam had one already."""
        if self.desk is None:
            raise _refusal("exam_not_found", "未连接检查登记系统", "no RIS is connected")
        if key is not None:
            self._replay_if_done(key)
        with self._read() as conn:
            tz = records.tz(conn)
            today = records.today(conn, self.now())
        if exam_id is not None:
            found = self.desk.exam(exam_id)
            exams = [found] if found is not None else []
        else:
            exams = self.desk.find(accession or barcode, today, tz)
        if not exams:
            raise NotFound(
                "exam_not_found",
                f"没有找到检查 {accession or barcode or exam_id}，请到登记处",
                f"no exam found for {accession or barcode or exam_id!r}; please see the desk",
            )
        usable = [e for e in exams if e.status in ("scheduled", "arrived")]
        if not usable:
            raise _refusal(
                "wrong_status",
                f"检查状态为 {exams[0].status}，不能报到",
                f"the exam is {exams[0].status}; it cannot be checked in",
            )
        if priority is not None and priority not in (*PRIORITY_GROUPS, "emergency"):
            raise Invalid("invalid", f"未知的优先类别 {priority}", f"unknown priority {priority!r}")
        with self._write(key) as tx:
            issued = [
                self._issue(tx, exam, queue, username, priority, allowed_queues) for exam in usable
            ]
            body = {"tickets": [views.print_ticket(tx.conn, row, new=new) for row, new in issued]}
            status = 201 if any(new for _, new in issued) else 200
            tx.remember(status, body)
            for exam in usable:
                if exam.exam_id is not None and exam.status == "scheduled":
                    tx.after_commit.append(self._advance_later(exam.exam_id, "arrived", username))
        return status, body

    def issue(
        self,
        exam: ExamInfo,
        *,
        username: str,
        queue: str | None = None,
        priority: str | None = None,
    ) -> Ticket:
        """A ticket for an arrived exam (or the exam's open ticket): for the RIS event and for
        callers that already have the exam's details."""
        with self._write() as tx:
            row, _new = self._issue(tx, exam, queue, username, priority, ())
            return records.to_ticket(tx.conn, row)

    def _advance_later(self, exam_id: int, status: str, username: str) -> Callable[[], None]:
        def advance() -> None:
            if self.desk is not None:
                self.desk.advance(exam_id, status, username)

        return advance

    def _match_queue(self, conn: Connection, exam: ExamInfo) -> Any:
        if exam.room:
            row = conn.execute(
                select(queues)
                .join(room_queues, room_queues.c.queue_id == queues.c.id)
                .join(rooms, rooms.c.id == room_queues.c.room_id)
                .where(rooms.c.code == exam.room)
                .order_by(queues.c.position, queues.c.id)
            ).first()
            if row is not None:
                return row
        candidates = conn.execute(
            select(queues)
            .where(func.upper(queues.c.modality) == exam.modality.upper())
            .order_by(queues.c.position, queues.c.id)
        ).all()
        for row in candidates:
            if row.department and exam.department and row.department == exam.department:
                return row
        for row in candidates:
            if not row.department:
                return row
        if candidates:
            return candidates[0]
        raise _refusal(
            "no_queue_for_exam",
            f"没有 {exam.modality} 检查的队列，请联系管理员",
            f"no queue takes {exam.modality} exams; ask the administrator",
        )

    def _issue(
        self,
        tx: Transaction,
        exam: ExamInfo,
        queue_code: str | None,
        username: str,
        priority: str | None,
        allowed_queues: tuple[str, ...],
    ) -> tuple[Any, bool]:
        conn = tx.conn
        if exam.exam_id is not None:
            existing = conn.execute(
                select(tickets).where(tickets.c.exam_id == exam.exam_id, tickets.c.is_open)
            ).first()
            if existing is not None:
                return existing, False
        queue = config.queue_row(conn, queue_code) if queue_code else self._match_queue(conn, exam)
        if allowed_queues and queue.code not in allowed_queues:
            raise Forbidden(
                "not_your_queue",
                f"此设备不能发放 {queue.name} 的号票",
                f"this device may not issue tickets for {queue.code}",
            )
        queue = config.queue_row(conn, queue.code, lock=True)  # numbers are handed out in turn
        now = self.now()
        today = records.today(conn, self.now())
        sequence = (
            conn.execute(
                select(func.max(tickets.c.sequence)).where(
                    tickets.c.queue_id == queue.id, tickets.c.service_day == today
                )
            ).scalar()
            or 0
        ) + 1
        appointment = records.aware(exam.scheduled_at)
        late = bool(appointment and now > appointment + timedelta(minutes=queue.late_grace_minutes))
        group = None if priority == "emergency" else priority
        values = {
            "queue_id": queue.id,
            "service_day": today,
            "sequence": sequence,
            "number": f"{queue.prefix}{sequence:03d}",
            "exam_id": exam.exam_id,
            "accession": exam.accession,
            "patient_id": exam.patient_id,
            "patient_name": exam.patient_name,
            "sex": exam.sex,
            "age": exam.age,
            "exam_name": exam.exam_name,
            "emergency": exam.emergency or priority == "emergency",
            "priority_group": group,
            "arrived_at": now,
            "appointment_at": appointment,
            "late": late,
            "status": TicketStatus.WAITING,
            "issued_by": username,
        }
        if late and queue.late_rule == "insert" and not self._inserted_waiting(conn, queue, "late"):
            conn.execute(update(queues).where(queues.c.id == queue.id).values(regular_since_late=0))
        ticket_id = conn.execute(insert(tickets).values(**values)).inserted_primary_key[0]  # type: ignore[index]
        row = conn.execute(select(tickets).where(tickets.c.id == ticket_id)).one()
        tx.event(
            "ticket.created",
            {
                "ticket_id": row.id,
                "number": row.number,
                "name": mask_name(row.patient_name),
                "priority": records.priority(row),
            },
            queue=queue.code,
        )
        return row, True

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

    # -- calls -------------------------------------------------------------------------------

    def _room_for_action(
        self, conn: Connection, code: str, allowed_room: str | None, *, calling: bool
    ) -> Any:
        if allowed_room is not None and allowed_room != code:
            raise Forbidden(
                "not_your_room",
                f"此设备属于诊室 {allowed_room}",
                f"this device serves {allowed_room}",
            )
        room = config.room_row(conn, code, lock=True)
        if calling:
            if room.state == RoomState.PAUSED:
                raise _refusal(
                    "room_paused", "诊室已暂停，请先恢复", "the room is paused; resume it first"
                )
            last = records.aware(room.last_call_at)
            if last is not None:
                ready = last + timedelta(seconds=room.min_call_interval_seconds)
                if self.now() < ready:
                    wait = max(1, int((ready - self.now()).total_seconds() + 0.999))
                    raise _refusal(
                        "too_soon",
                        f"呼叫过于频繁，请 {wait} 秒后再试",
                        f"calling too often; try again in {wait} s",
                        retry_after=wait,
                    )
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
            raise _refusal(
                "wrong_status",
                f"请先结束当前患者 {current.number}",
                f"finish the current patient {current.number} first",
            )
        self._finish_ticket(tx, room, current, username)

    def call_next(
        self,
        room_code: str,
        *,
        username: str,
        close_current: bool = True,
        allowed_room: str | None = None,
        key: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        with self._write(key) as tx:
            conn = tx.conn
            room = self._room_for_action(conn, room_code, allowed_room, calling=True)
            queue_rows = self._room_queue_rows(conn, room)
            self._close_current(tx, room, username, close_current)
            today = records.today(conn, self.now())
            lines = [(q, records.ordered(conn, q, today)) for q in queue_rows]
            claimed = None
            while claimed is None:
                heads = [
                    (i, records.waiting(rows[0]), records.rules(q))
                    for i, (q, rows) in enumerate(lines)
                    if rows
                ]
                pick = ordering.first_of([(w, r) for _, w, r in heads])
                if pick is None:
                    break
                index = heads[pick][0]
                queue, rows = lines[index]
                candidate = rows.pop(0)
                if self._claim(conn, candidate.id, room, (TicketStatus.WAITING,)):
                    claimed = (queue, candidate)
            if claimed is None:
                if room.current_ticket_id is None or not close_current:
                    raise _refusal("no_waiting_patient", "没有候诊患者", "no patient is waiting")
                body = self._action_body(tx, room.code, None)
                body["notice"] = {
                    "code": "no_waiting_patient",
                    "zh": "没有候诊患者",
                    "en": "no patient is waiting",
                }
            else:
                queue, candidate = claimed
                row = self._after_claim(tx, room, queue, candidate, username, recall=False)
                body = self._action_body(tx, room.code, row)
            tx.remember(200, body)
        return body

    def call_ticket(
        self,
        room_code: str,
        ticket_id: int,
        *,
        username: str,
        close_current: bool = True,
        allowed_room: str | None = None,
        key: tuple[str, str] | None = None,
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
                raise _refusal(
                    "invalid",
                    f"{ticket.number} 不在本诊室的队列中",
                    f"{ticket.number} is not in a queue of this room",
                )
            if room.current_ticket_id == ticket.id:
                raise _refusal(
                    "wrong_status",
                    f"{ticket.number} 已在本诊室",
                    f"{ticket.number} is here already",
                )
            self._close_current(tx, room, username, close_current)
            if not self._claim(conn, ticket.id, room, (TicketStatus.WAITING, TicketStatus.MISSED)):
                now_row = records.ticket_row(conn, ticket.id)
                if now_row is not None and now_row.status in (
                    TicketStatus.CALLED,
                    TicketStatus.IN_PROGRESS,
                ):
                    raise _refusal(
                        "ticket_taken",
                        f"{ticket.number} 已被其他诊室呼叫",
                        f"{ticket.number} was called by another room",
                    )
                raise _refusal(
                    "wrong_status",
                    f"{ticket.number} 当前状态不能呼叫",
                    f"{ticket.number} cannot be called in its status",
                )
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
                state=RoomState.PAUSED if room.state == RoomState.PAUSED else RoomState.IDLE,
            )
        )
        row = records.ticket_row(conn, ticket.id)
        assert row is not None
        settings = config.get_settings(conn)
        text = voice.render(
            queue.voice_template,
            number=row.number,
            name=voice.spoken_name(row.patient_name, settings.voice_name),
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
                "name": mask_name(row.patient_name),
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

    def _current(self, conn: Connection, room: Any, statuses: tuple[str, ...]) -> Any:
        row = records.ticket_row(conn, room.current_ticket_id) if room.current_ticket_id else None
        if row is None or row.status not in statuses:
            raise _refusal(
                "no_current_patient", "本诊室没有当前患者", "the room has no current patient"
            )
        return row

    def recall(
        self,
        room_code: str,
        *,
        username: str,
        allowed_room: str | None = None,
        key: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        with self._write(key) as tx:
            conn = tx.conn
            room = self._room_for_action(conn, room_code, allowed_room, calling=True)
            current = self._current(conn, room, (TicketStatus.CALLED,))
            conn.execute(
                update(tickets)
                .where(tickets.c.id == current.id)
                .values(called_at=self.now(), call_count=tickets.c.call_count + 1)
            )
            queue = conn.execute(select(queues).where(queues.c.id == current.queue_id)).one()
            row = self._after_claim(tx, room, queue, current, username, recall=True)
            body = self._action_body(tx, room.code, row)
            tx.remember(200, body)
        return body

    def missed(
        self,
        room_code: str,
        *,
        username: str,
        allowed_room: str | None = None,
        key: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        """The called patient did not come: suspended for the queue's time, then back in the
        queue; closed as absent after the queue's ``missed_max`` misses."""
        with self._write(key) as tx:
            conn = tx.conn
            room = self._room_for_action(conn, room_code, allowed_room, calling=False)
            current = self._current(conn, room, (TicketStatus.CALLED,))
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
                .values(current_ticket_id=None, state=_resting(room))
            )
            row = records.ticket_row(conn, current.id)
            self._ticket_event(tx, row, room.code)
            self._room_event(tx, room.code)
            body = self._action_body(tx, room.code, row)
            tx.remember(200, body)
        return body

    def start(
        self,
        room_code: str,
        *,
        username: str,
        allowed_room: str | None = None,
        key: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        with self._write(key) as tx:
            conn = tx.conn
            room = self._room_for_action(conn, room_code, allowed_room, calling=False)
            current = self._current(conn, room, (TicketStatus.CALLED,))
            conn.execute(
                update(tickets)
                .where(tickets.c.id == current.id)
                .values(status=TicketStatus.IN_PROGRESS, started_at=self.now())
            )
            if room.state != RoomState.PAUSED:
                conn.execute(
                    update(rooms).where(rooms.c.id == room.id).values(state=RoomState.BUSY)
                )
            row = records.ticket_row(conn, current.id)
            self._ticket_event(tx, row, room.code)
            self._room_event(tx, room.code)
            body = self._action_body(tx, room.code, row)
            tx.remember(200, body)
            if row.exam_id is not None:
                tx.after_commit.append(self._advance_later(row.exam_id, "in_progress", username))
        return body

    def finish(
        self,
        room_code: str,
        *,
        username: str,
        allowed_room: str | None = None,
        key: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        with self._write(key) as tx:
            conn = tx.conn
            room = self._room_for_action(conn, room_code, allowed_room, calling=False)
            current = self._current(conn, room, (TicketStatus.CALLED, TicketStatus.IN_PROGRESS))
            row = self._finish_ticket(tx, room, current, username)
            body = self._action_body(tx, room.code, row)
            tx.remember(200, body)
        return body

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
            .values(current_ticket_id=None, state=_resting(room))
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
            if paused:
                state = RoomState.PAUSED
            else:
                current = (
                    records.ticket_row(tx.conn, room.current_ticket_id)
                    if room.current_ticket_id
                    else None
                )
                busy = current is not None and current.status == TicketStatus.IN_PROGRESS
                state = RoomState.BUSY if busy else RoomState.IDLE
            if state != room.state:
                tx.conn.execute(update(rooms).where(rooms.c.id == room.id).values(state=state))
                self._room_event(tx, room.code)
            current_row = (
                records.ticket_row(tx.conn, room.current_ticket_id)
                if room.current_ticket_id
                else None
            )
            return self._action_body(tx, room.code, current_row)

    def _action_body(self, tx: Transaction, room_code: str, row: Any) -> dict[str, Any]:
        room = config.get_room(tx.conn, room_code)
        return {
            "seq": tx.seq or journal.latest(tx.conn),
            "room": records.room_dict(room),
            "ticket": records.to_ticket(tx.conn, row).as_dict() if row is not None else None,
        }

    # -- tickets (registrar) -------------------------------------------------------------------

    def set_priority(self, ticket_id: int, priority: str | None) -> Ticket:
        if priority is not None and priority not in (*PRIORITY_GROUPS, "emergency"):
            raise Invalid("invalid", f"未知的优先类别 {priority}", f"unknown priority {priority!r}")
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
                raise _refusal(
                    "wrong_status", f"{row.number} 不是过号状态", f"{row.number} is not missed"
                )
            self._return(tx, row, self.now())
            return records.to_ticket(tx.conn, records.ticket_row(tx.conn, row.id))

    def _open_ticket(self, conn: Connection, ticket_id: int) -> Any:
        row = records.ticket_row(conn, ticket_id)
        if row is None:
            raise not_found("ticket", str(ticket_id))
        if not row.is_open:
            raise _refusal("wrong_status", f"{row.number} 已结束", f"{row.number} is closed")
        return row

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
                .values(current_ticket_id=None, state=_resting(room))
            )
            self._room_event(tx, room.code)

    def _return(self, tx: Transaction, row: Any, at: datetime) -> None:
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
                self._return(tx, row, records.aware(row.back_at) or now)
            return len(rows)

    def close_past_days(self) -> int:
        """Tickets of earlier days still open are closed as absent (numbers restart daily)."""
        with self._read() as conn:
            today = records.today(conn, self.now())
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

    # -- the RIS's own status changes ------------------------------------------------------------

    def on_exam_status_changed(self, _topic: str, payload: dict[str, Any]) -> None:
        """Keep tickets in step with exams moved elsewhere (registration desk, MPPS, HL7)."""
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
            exam = self.desk.exam(int(exam_id)) if self.desk is not None else None
            if exam is None:
                return
            try:
                self.issue(exam, username=username)
            except QueueError as exc:
                log.info("arrived exam %s gets no ticket: %s", exam_id, exc.en)
            return
        if ticket is None:
            return
        if status == "in_progress" and ticket.status != TicketStatus.IN_PROGRESS:
            with self._write() as tx:
                current_in = self._rooms_of(tx, ticket.id)
                tx.conn.execute(
                    update(tickets)
                    .where(tickets.c.id == ticket.id, tickets.c.is_open)
                    .values(status=TicketStatus.IN_PROGRESS, started_at=self.now(), back_at=None)
                )
                for room in current_in:
                    if room.state == RoomState.IDLE:
                        tx.conn.execute(
                            update(rooms).where(rooms.c.id == room.id).values(state=RoomState.BUSY)
                        )
                        self._room_event(tx, room.code)
                self._ticket_event(tx, records.ticket_row(tx.conn, ticket.id))
        elif status in ("completed", "reported", "verified", "cancelled", "no_show"):
            closed = (
                TicketStatus.FINISHED
                if status in ("completed", "reported", "verified")
                else (TicketStatus.CANCELLED)
            )
            with self._write() as tx:
                self._rooms_of(tx, ticket.id)
                tx.conn.execute(
                    update(tickets)
                    .where(tickets.c.id == ticket.id, tickets.c.is_open)
                    .values(status=closed, is_open=False, finished_at=self.now())
                )
                self._release_room(tx, ticket.id)
                self._ticket_event(tx, records.ticket_row(tx.conn, ticket.id))

    # -- background ----------------------------------------------------------------------------

    def start_background(self, interval: float = 1.0) -> None:
        """The live event feed, and a ticker that returns missed patients when due and closes
        earlier days' tickets."""
        self.feed.start()
        self._stop.clear()

        def run() -> None:
            ticks = 0
            while not self._stop.wait(interval):
                try:
                    self.return_due()
                    if ticks % 60 == 0:
                        self.close_past_days()
                    if ticks % 3600 == 0:
                        self.housekeeping()
                except Exception:
                    log.exception("queue ticker failed")
                ticks += 1

        self._ticker = threading.Thread(target=run, name="queue-ticker", daemon=True)
        self._ticker.start()

    def stop_background(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=10)
            self._ticker = None
        self.feed.stop()

    # -- what screens, callers and tickets show ----------------------------------------------------

    def ticket(self, ticket_id: int) -> Ticket:
        with self._read() as conn:
            return views.ticket(conn, ticket_id)

    def queue_tickets(self, code: str, status: str | None = None) -> list[Ticket]:
        """The day's tickets of a queue; waiting ones in calling order."""
        with self._read() as conn:
            return views.queue_tickets(conn, code, status, self.now())

    def print_ticket(self, ticket_id: int) -> dict[str, Any]:
        with self._read() as conn:
            return views.print_ticket(conn, records.ticket_row_or_404(conn, ticket_id), new=False)

    def screen_state(self, code: str) -> dict[str, Any]:
        with self._read() as conn:
            return views.screen_state(conn, code, self.now())

    def room_state(self, code: str) -> dict[str, Any]:
        with self._read() as conn:
            return views.room_state(conn, code, self.now())


def _resting(room: Any) -> str:
    return RoomState.PAUSED if room.state == RoomState.PAUSED else RoomState.IDLE


__all__ = ["TOPIC", "QueueService"]
