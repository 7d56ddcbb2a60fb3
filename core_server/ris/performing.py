"""The work around performing an exam: check-in (on the day it is booked for, or confirmed),
the technician's checks, retakes (加拍/补拍/重拍) and changing the exam item."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, update

from core_server import clock
from core_server.ris import catalogue, exams, records, status
from core_server.ris.base import EXAM_CHANGED, RisCore
from core_server.ris.models import (
    Conflict,
    Exam,
    ExamStatus,
    ProcedureRequest,
    RetakeKind,
    RisError,
    StatusChange,
)
from core_server.ris.tables import ris_exams

# Exams that can be retaken: started or done.
_RETAKABLE = (
    ExamStatus.IN_PROGRESS,
    ExamStatus.COMPLETED,
    ExamStatus.REPORTED,
    ExamStatus.VERIFIED,
)


def booked_another_day(scheduled_at: datetime | None) -> bool:
    """Is an exam booked for another day than the hospital's today? (Checking it in then
    needs the desk's confirmation, here and at the queue's desk.)"""
    return scheduled_at is not None and clock.local(scheduled_at).date() != clock.today()


def arrive(conn: Connection, exam_id: int, username: str, confirm_other_day: bool) -> StatusChange:
    """The exam becomes ``arrived``. Booked for another day than the hospital's today, it is
    refused (``ris.exam.check_in_other_day``, with the booked time) unless the desk confirmed;
    the confirmation is written into the exam's history."""
    row = exams.exam_row(conn, exam_id)
    status.check(row.status, ExamStatus.ARRIVED)  # an illegal step says so first
    reason = "check-in"
    booked = row.scheduled_at
    if booked_another_day(booked):
        if not confirm_other_day:
            raise Conflict(
                "ris.exam.check_in_other_day",
                exam_id=exam_id,
                scheduled_at=clock.iso(booked),
                scheduled=clock.shown(booked),
                today=clock.today().isoformat(),
            )
        reason = (
            f"check-in on {clock.today().isoformat()}, booked for {clock.shown(booked)}: confirmed"
        )
    return exams.transition(conn, exam_id, ExamStatus.ARRIVED, username, reason)


def retake(
    conn: Connection, exam_id: int, kind: str, username: str, procedure_code: str, reason: str
) -> StatusChange:
    try:
        retake_kind = RetakeKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in RetakeKind)
        raise RisError("ris.exam.unknown_retake_kind", kind=kind, known=known) from None
    original = exams.exam_row(conn, exam_id)
    if original.status not in _RETAKABLE:
        raise Conflict("ris.exam.not_retakable")
    request = ProcedureRequest(
        procedure_code=procedure_code or original.procedure_code,
        room=original.room,
        station_ae=original.station_ae,
        department=original.department,
        scheduled_at=clock.now().replace(microsecond=0),
    )
    return exams.add_exam(
        conn,
        original.order_fk,
        original.patient_fk,
        request,
        username,
        initial=ExamStatus.ARRIVED,
        retake_of=original.id,
        retake_kind=retake_kind.value,
        reason=reason or f"{retake_kind.value} of {original.accession_number}",
    )


def change_procedure(
    conn: Connection, exam_id: int, procedure_code: str, username: str, reason: str
) -> StatusChange:
    row = exams.exam_row(conn, exam_id)
    if row.status not in (*status.NOT_STARTED, ExamStatus.IN_PROGRESS):
        raise Conflict("ris.exam.completed_keeps_item")
    item = catalogue.procedure(conn, procedure_code)
    conn.execute(
        update(ris_exams)
        .where(ris_exams.c.id == exam_id)
        .values(
            procedure_code=item.code,
            procedure_name=item.name_zh,
            modality=item.modality,
            body_part=item.body_part,
            department=item.department,
            fee_fen=item.price_fen,
        )
    )
    note = f"procedure {row.procedure_code} -> {item.code}" + (f": {reason}" if reason else "")
    return exams.record(
        conn, exam_id, row.accession_number, row.status, row.status, username, records.now(), note
    )


def set_fee(conn: Connection, exam_id: int, fee_fen: int, username: str, reason: str) -> int:
    """The exam's fee in fen (the desk charges otherwise than the catalogue); its history
    notes the change. Returns the fee it had."""
    if fee_fen < 0:
        raise RisError("ris.exam.negative_fee")
    row = exams.exam_row(conn, exam_id)
    conn.execute(update(ris_exams).where(ris_exams.c.id == exam_id).values(fee_fen=fee_fen))
    note = f"fee {row.fee_fen / 100:.2f} -> {fee_fen / 100:.2f}" + (f": {reason}" if reason else "")
    exams.record(
        conn, exam_id, row.accession_number, row.status, row.status, username, records.now(), note
    )
    return int(row.fee_fen)


class Performing(RisCore):
    """The service's check-in, checks, retakes and item changes."""

    def check_in(self, exam_id: int, *, username: str, confirm_other_day: bool = False) -> Exam:
        """Arrival at the desk or ticket printer: the exam becomes ``arrived``. An exam booked
        for another day is refused (:class:`Conflict` ``ris.exam.check_in_other_day``) unless
        ``confirm_other_day``: the desk asks first, and the history records it."""
        with self._write() as conn:
            change = arrive(conn, exam_id, username, confirm_other_day)
        self._publish([change])
        return self.exam(exam_id)

    def confirm(
        self,
        exam_id: int,
        *,
        identity: bool | None = None,
        requisition: bool | None = None,
        fee: bool | None = None,
        username: str,
    ) -> Exam:
        """The technician's checks before starting: identity, paper requisition, fee paid."""
        values = {
            column: value
            for column, value in (
                ("identity_confirmed", identity),
                ("requisition_confirmed", requisition),
                ("fee_confirmed", fee),
            )
            if value is not None
        }
        with self._write() as conn:
            exams.exam_row(conn, exam_id)
            if values:
                conn.execute(update(ris_exams).where(ris_exams.c.id == exam_id).values(**values))
        return self.exam(exam_id)

    def retake(
        self, exam_id: int, kind: str, *, username: str, procedure_code: str = "", reason: str = ""
    ) -> Exam:
        """加拍/补拍/重拍: a new exam (arrived, for the same patient and order) linked to the
        started or completed one, with its own accession number."""
        with self._write() as conn:
            change = retake(conn, exam_id, kind, username, procedure_code, reason)
        self._publish([change])
        return self.exam(change.exam_id)

    def change_procedure(
        self, exam_id: int, procedure_code: str, *, username: str, reason: str = ""
    ) -> Exam:
        """Change the exam item of an exam not yet completed (modality and body part follow)."""
        with self._write() as conn:
            change_procedure(conn, exam_id, procedure_code, username, reason)
        changed = self.exam(exam_id)
        self.bus.publish(EXAM_CHANGED, {"exam_id": exam_id, "what": "procedure"})
        return changed

    def set_fee(self, exam_id: int, fee_fen: int, *, username: str, reason: str = "") -> Exam:
        """Change what the exam is charged (in fen); the history notes old and new."""
        with self._write() as conn:
            set_fee(conn, exam_id, fee_fen, username, reason)
        changed = self.exam(exam_id)
        self.bus.publish(EXAM_CHANGED, {"exam_id": exam_id, "what": "fee"})
        return changed
