"""Check-in: a scanned code (or an exam id or accession) becomes a ticket in the right queue,
numbered in turn for the hospital's day; the RIS exam moves to *arrived* after the commit.

The appointment time comes aware from the RIS (:func:`~core_server.queueing.exams.appointment`),
so the late rule and the appointment order compare true moments whatever the machine's zone.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from core_server import clock, ris
from core_server.queueing import config, records, views
from core_server.queueing.base import ServiceBase
from core_server.queueing.exams import appointment as aware_appointment
from core_server.queueing.models import PRIORITY_GROUPS, ExamInfo, Ticket, TicketStatus
from core_server.queueing.refusals import Forbidden, NotFound, QueueRefusal, invalid
from core_server.queueing.tables import queues, room_queues, rooms, tickets
from core_server.queueing.transactions import Transaction


def check_priority(priority: str | None) -> None:
    if priority is not None and priority not in (*PRIORITY_GROUPS, "emergency"):
        raise invalid("priority", priority=priority)


def refuse_other_day(exams: list[ExamInfo], wording: str) -> None:
    """Refuse checking in an exam not yet arrived that is booked for another day (the first);
    ``wording``: ``confirm`` asks the desk, ``see_desk`` sends a patient at a printer there."""
    for exam in exams:
        booked = exam.scheduled_at
        if exam.status == "scheduled" and booked and ris.booked_another_day(booked):
            raise QueueRefusal(
                "check_in_other_day",
                wording,
                accession=exam.accession,
                scheduled_at=clock.iso(booked),
                scheduled=clock.shown(booked),
                today=clock.today().isoformat(),
            )


class CheckIn(ServiceBase):
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
        confirm_other_day: bool = False,
        by_device: bool = False,
    ) -> tuple[int, dict[str, Any]]:
        """Tickets for the exams a scanned code (or exam id / accession) names: ``(201, body)``
        when a new ticket was issued, ``(200, body)`` when every exam had one already. An exam
        booked for another day than today is refused (``check_in_other_day``) unless the desk
        confirmed, as the RIS's own check-in; the RIS history records the confirmation. A
        ticket printer cannot confirm: its patient is sent to the desk."""
        if self.desk is None:
            raise QueueRefusal("exam_not_found", "no_ris")
        if key is not None:
            self._replay_if_done(key)
        usable = self._usable_exams(barcode, exam_id, accession)
        check_priority(priority)
        if by_device or not confirm_other_day:
            refuse_other_day(usable, "see_desk" if by_device else "confirm")
        with self._write(key) as tx:
            issued = [
                self._issue(tx, exam, queue, username, priority, allowed_queues) for exam in usable
            ]
            settings = self._settings(tx.conn)
            body = {
                "tickets": [
                    views.print_ticket(tx.conn, row, settings, new=new) for row, new in issued
                ]
            }
            status = 201 if any(new for _, new in issued) else 200
            tx.remember(status, body)
            for exam in usable:
                if exam.exam_id is not None and exam.status == "scheduled":
                    tx.after_commit.append(
                        self._advance_later(exam.exam_id, "arrived", username, confirm_other_day)
                    )
        return status, body

    def _usable_exams(self, barcode: str, exam_id: int | None, accession: str) -> list[ExamInfo]:
        assert self.desk is not None
        if exam_id is not None:
            found = self.desk.exam(exam_id)
            exams = [found] if found is not None else []
        else:
            exams = self.desk.find(accession or barcode, records.day_of(self.now()))
        if not exams:
            raise NotFound("exam_not_found", code=str(accession or barcode or exam_id))
        usable = [e for e in exams if e.status in ("scheduled", "arrived")]
        if not usable:
            raise QueueRefusal("wrong_status", "exam", status=exams[0].status)
        return usable

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
        raise QueueRefusal("no_queue_for_exam", modality=exam.modality)

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
            raise Forbidden("not_your_queue", queue=queue.name)
        queue = config.queue_row(conn, queue.code, lock=True)  # numbers are handed out in turn
        values = self._ticket_values(conn, queue, exam, username, priority)
        if (
            values["late"]
            and queue.late_rule == "insert"
            and not self._inserted_waiting(conn, queue, "late")
        ):
            conn.execute(update(queues).where(queues.c.id == queue.id).values(regular_since_late=0))
        ticket_id = conn.execute(insert(tickets).values(**values)).inserted_primary_key[0]  # type: ignore[index]
        row = conn.execute(select(tickets).where(tickets.c.id == ticket_id)).one()
        tx.event(
            "ticket.created",
            {
                "ticket_id": row.id,
                "number": row.number,
                "name": records.masked_name(row.patient_name),
                "priority": records.priority(row),
            },
            queue=queue.code,
        )
        return row, True

    def _ticket_values(
        self, conn: Connection, queue: Any, exam: ExamInfo, username: str, priority: str | None
    ) -> dict[str, Any]:
        now = self.now()
        today = records.day_of(now)
        sequence = (
            conn.execute(
                select(func.max(tickets.c.sequence)).where(
                    tickets.c.queue_id == queue.id, tickets.c.service_day == today
                )
            ).scalar()
            or 0
        ) + 1
        appointment = aware_appointment(exam.scheduled_at) if exam.scheduled_at else None
        late = bool(appointment and now > appointment + timedelta(minutes=queue.late_grace_minutes))
        return {
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
            "priority_group": None if priority == "emergency" else priority,
            "arrived_at": now,
            "appointment_at": appointment,
            "late": late,
            "status": TicketStatus.WAITING,
            "issued_by": username,
        }
