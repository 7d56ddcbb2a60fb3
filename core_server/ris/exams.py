"""Exams: their records, status steps with history (the outbox of status changes), and the
lists the desk, the technicians and other domains read."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydicom.uid import RE_VALID_UID, generate_uid
from sqlalchemy import Connection, func, insert, or_, select, update

from core_server import clock, db
from core_server.ris import catalogue, patients, records, status
from core_server.ris.base import RisCore
from core_server.ris.models import (
    Conflict,
    Exam,
    ExamStatus,
    NotFound,
    ProcedureRequest,
    RisError,
    StatusChange,
)
from core_server.ris.tables import (
    ris_exam_history,
    ris_exam_studies,
    ris_exams,
    ris_orders,
    ris_patients,
)


def add_exam(
    conn: Connection,
    order_id: int,
    patient_fk: int,
    request: ProcedureRequest,
    username: str,
    *,
    initial: ExamStatus = ExamStatus.SCHEDULED,
    retake_of: int | None = None,
    retake_kind: str = "",
    reason: str = "",
) -> StatusChange:
    """A new exam of the order for one requested procedure; its first history step."""
    item = catalogue.procedure(conn, request.procedure_code)
    accession = request.accession_number.strip() or records.day_number(conn, "accession")
    if len(accession) > 16:
        raise RisError("ris.exam.accession_too_long", accession=accession)
    if conn.execute(
        select(ris_exams.c.id).where(ris_exams.c.accession_number == accession)
    ).first():
        raise Conflict("ris.exam.accession_taken", accession=accession)
    room, station_ae = request.room, request.station_ae
    if room and not station_ae:
        station_ae = catalogue.room(conn, room).station_ae
    stamp = records.now()
    exam_id = conn.execute(
        insert(ris_exams)
        .values(
            order_fk=order_id,
            patient_fk=patient_fk,
            accession_number=accession,
            requested_procedure_id=(request.requested_procedure_id.strip() or accession)[:16],
            scheduled_step_id=accession,
            study_instance_uid=study_uid(conn, request.study_instance_uid),
            procedure_code=item.code,
            procedure_name=item.name_zh,
            modality=request.modality or item.modality,
            body_part=request.body_part or item.body_part,
            department=request.department or item.department,
            room=room,
            station_ae=station_ae,
            scheduled_at=records.moment(request.scheduled_at) or stamp.replace(microsecond=0),
            notes=request.notes,
            status=initial.value,
            status_at=stamp,
            status_by=username,
            retake_of_fk=retake_of,
            retake_kind=retake_kind,
            created_at=stamp,
            fee_fen=item.price_fen,
        )
        .returning(ris_exams.c.id)
    ).scalar_one()
    return record(conn, exam_id, accession, None, initial.value, username, stamp, reason)


def study_uid(conn: Connection, given: str) -> str:
    """The order placer's Study Instance UID, checked; a new one when none is given."""
    uid = given.strip()
    if not uid:
        return str(generate_uid())
    if len(uid) > 64 or not RE_VALID_UID.match(uid):
        raise RisError("ris.exam.study_uid_invalid", uid=uid)
    for table in (ris_exams, ris_exam_studies):
        if conn.execute(select(table.c.id).where(table.c.study_instance_uid == uid)).first():
            raise Conflict("ris.exam.study_uid_taken", uid=uid)
    return uid


def record(
    conn: Connection,
    exam_id: int,
    accession: str,
    old: str | None,
    new: str,
    username: str,
    at: datetime,
    reason: str,
) -> StatusChange:
    """One step of the exam's history (a status change, or a change noted with its status)."""
    change_id = conn.execute(
        insert(ris_exam_history)
        .values(
            exam_fk=exam_id, old_status=old, new_status=new, username=username, at=at, reason=reason
        )
        .returning(ris_exam_history.c.id)
    ).scalar_one()
    return StatusChange(exam_id, accession, old, new, username, at, reason, change_id)


def changes_after(conn: Connection, after: int, limit: int) -> list[StatusChange]:
    rows = conn.execute(
        select(ris_exam_history, ris_exams.c.accession_number)
        .join(ris_exams, ris_exams.c.id == ris_exam_history.c.exam_fk)
        .where(ris_exam_history.c.id > after)
        .order_by(ris_exam_history.c.id)
        .limit(limit)
    )
    return [_change(r, r.accession_number) for r in rows]


def last_change_id(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(ris_exam_history.c.id), 0))).scalar_one())


def _change(r: Any, accession: str) -> StatusChange:
    return StatusChange(
        r.exam_fk, accession, r.old_status, r.new_status, r.username, r.at, r.reason, r.id
    )


def exam_row(conn: Connection, exam_id: int) -> Any:
    row = conn.execute(select(ris_exams).where(ris_exams.c.id == exam_id).with_for_update()).first()
    if row is None:
        raise NotFound("ris.exam.not_found", exam_id=exam_id)
    return row


def transition(
    conn: Connection, exam_id: int, new: str, username: str, reason: str = ""
) -> StatusChange:
    row = exam_row(conn, exam_id)
    target = status.check(row.status, new)
    stamp = records.now()
    conn.execute(
        update(ris_exams)
        .where(ris_exams.c.id == exam_id)
        .values(status=target.value, status_at=stamp, status_by=username)
    )
    return record(
        conn, exam_id, row.accession_number, row.status, target.value, username, stamp, reason
    )


def history(conn: Connection, exam_id: int) -> list[StatusChange]:
    accession = exam_row(conn, exam_id).accession_number
    rows = conn.execute(
        select(ris_exam_history)
        .where(ris_exam_history.c.exam_fk == exam_id)
        .order_by(ris_exam_history.c.id)
    )
    return [_change(r, accession) for r in rows]


def listing(
    conn: Connection,
    *,
    day: date | None = None,
    modality: str = "",
    room: str = "",
    statuses: list[str] | None = None,
    patient_id: str = "",
    text: str = "",
    limit: int = 200,
) -> list[Exam]:
    query = records.exam_query()
    if day is not None:
        start, end = clock.local_day_bounds(day)  # the hospital's day, whatever the machine's
        query = query.where(ris_exams.c.scheduled_at >= start, ris_exams.c.scheduled_at < end)
    if modality:
        query = query.where(ris_exams.c.modality == modality)
    if room:
        # The room's own exams, and those of its modality not yet given a room.
        room_modality = catalogue.room(conn, room).modality
        query = query.where(
            or_(
                ris_exams.c.room == room,
                (ris_exams.c.room == "") & (ris_exams.c.modality == room_modality),
            )
        )
    if statuses:
        for value in statuses:
            status.parse(value)
        query = query.where(ris_exams.c.status.in_(statuses))
    if patient_id:
        query = query.where(ris_patients.c.patient_id == patient_id)
    if text.strip():
        query = query.where(
            or_(ris_exams.c.accession_number == text.strip(), patients.text_matches(text))
        )
    query = query.order_by(
        ris_orders.c.emergency.desc(), ris_exams.c.scheduled_at, ris_exams.c.id
    ).limit(limit)
    return [records.exam(r) for r in conn.execute(query)]


class Exams(RisCore):
    """The service's exam reads and status steps."""

    def exam_by_accession(self, accession_number: str) -> Exam:
        """Query exam status by accession number (HIS, queue check-in by barcode)."""
        with db.read(self.engine) as conn:
            row = conn.execute(
                records.exam_query().where(ris_exams.c.accession_number == accession_number.strip())
            ).first()
        if row is None:
            raise NotFound("ris.exam.accession_not_found", accession=accession_number)
        return self._with_images([records.exam(row)])[0]

    def exams(
        self,
        *,
        day: date | None = None,
        modality: str = "",
        room: str = "",
        status: str | list[str] = "",
        patient_id: str = "",
        text: str = "",
        limit: int = 200,
    ) -> list[Exam]:
        """Exams by scheduled day (the hospital's), modality, room, status, patient: the
        technician's worklist and the registration desk's list. Emergencies first, then by
        scheduled time."""
        statuses = [status] if isinstance(status, str) and status else list(status or [])
        with db.read(self.engine) as conn:
            found = listing(
                conn,
                day=day,
                modality=modality,
                room=room,
                statuses=statuses,
                patient_id=patient_id,
                text=text,
                limit=limit,
            )
        return self._with_images(found)

    def mark_no_shows(self, before: date, *, username: str) -> list[Exam]:
        """End of day: exams still ``scheduled`` for a day before ``before`` (the hospital's
        days) become ``no_show`` (the patient can still arrive late or be rebooked)."""
        start, _ = clock.local_day_bounds(before)
        with self._write() as conn:
            late = conn.execute(
                select(ris_exams.c.id).where(
                    ris_exams.c.status == ExamStatus.SCHEDULED, ris_exams.c.scheduled_at < start
                )
            ).all()
            changes = [
                transition(
                    conn, row.id, ExamStatus.NO_SHOW, username, "not arrived by the end of the day"
                )
                for row in late
            ]
        self._publish(changes)
        return [self.exam(c.exam_id) for c in changes]

    def status_changes(self, after: int = 0, limit: int = 100) -> list[StatusChange]:
        """Status changes of every exam recorded after ``change_id`` ``after``, oldest first:
        the outbox a subscriber that must miss none reads with its own cursor (the bus event
        is only a hint to look). Change ids are committed in increasing order."""
        with db.read(self.engine) as conn:
            return changes_after(conn, after, limit)

    def last_status_change(self) -> int:
        """The ``change_id`` of the newest status change (0 when there is none)."""
        with db.read(self.engine) as conn:
            return last_change_id(conn)

    def history(self, exam_id: int) -> list[StatusChange]:
        """Every status change of the exam, oldest first."""
        with db.read(self.engine) as conn:
            return history(conn, exam_id)

    def change_status(
        self, exam_id: int, new_status: str, *, username: str, reason: str = ""
    ) -> Exam:
        """Move an exam along the status machine (:mod:`core_server.ris.status`); an illegal
        step is :class:`IllegalTransition` with the allowed ones named."""
        with self._write() as conn:
            change = transition(conn, exam_id, new_status, username, reason)
        self._publish([change])
        return self.exam(exam_id)
