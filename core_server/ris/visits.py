"""Visits (HL7 PV1): an outpatient attendance or an inpatient stay, its discharge (A03) and
its cancellation (A11), which cancels its exams not yet started."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from core_server.ris import exams, records, status
from core_server.ris.base import RisCore
from core_server.ris.models import (
    Conflict,
    ExamStatus,
    NotFound,
    PatientClass,
    RisError,
    StatusChange,
    Visit,
    VisitIn,
)
from core_server.ris.tables import ris_exams, ris_orders, ris_patients, ris_visits


def upsert_visit(conn: Connection, patient_row: Any, visit: VisitIn) -> Visit:
    number = visit.visit_number.strip()
    if not number or len(number) > 64:
        raise RisError("ris.visit.number_invalid")
    try:
        PatientClass(visit.patient_class)
    except ValueError:
        known = ", ".join(c.value for c in PatientClass)
        raise RisError(
            "ris.visit.unknown_class", patient_class=visit.patient_class, known=known
        ) from None
    values = {
        "patient_fk": patient_row.id,
        "patient_class": str(visit.patient_class),
        "department": visit.department,
        "ward": visit.ward,
        "bed": visit.bed,
        "attending_doctor": visit.attending_doctor,
        "admitted_at": records.moment(visit.admitted_at),
    }
    row = conn.execute(select(ris_visits).where(ris_visits.c.visit_number == number)).first()
    if row is None:
        conn.execute(
            insert(ris_visits).values(
                visit_number=number, status="active", created_at=records.now(), **values
            )
        )
    else:
        if row.patient_fk != patient_row.id:
            raise Conflict("ris.visit.of_another_patient", visit_number=number)
        conn.execute(update(ris_visits).where(ris_visits.c.id == row.id).values(**values))
    return visit_by_number(conn, number)


def visit_row(conn: Connection, number: str) -> Any:
    row = conn.execute(
        select(ris_visits).where(ris_visits.c.visit_number == number).with_for_update()
    ).first()
    if row is None:
        raise NotFound("ris.visit.not_found", visit_number=number)
    return row


def visit_by_number(conn: Connection, number: str) -> Visit:
    row = visit_row(conn, number)
    owner = conn.execute(select(ris_patients).where(ris_patients.c.id == row.patient_fk)).one()
    return records.visit(row, owner)


def set_visit(conn: Connection, number: str, **values: Any) -> Visit:
    row = visit_row(conn, number)
    conn.execute(update(ris_visits).where(ris_visits.c.id == row.id).values(**values))
    return visit_by_number(conn, number)


def cancel_exams(conn: Connection, visit_fk: int, username: str, reason: str) -> list[StatusChange]:
    """The visit's exams not yet started become cancelled."""
    found = conn.execute(
        select(ris_exams.c.id, ris_exams.c.status)
        .join(ris_orders, ris_orders.c.id == ris_exams.c.order_fk)
        .where(ris_orders.c.visit_fk == visit_fk)
        .order_by(ris_exams.c.id)
    ).all()
    return [
        exams.transition(conn, exam.id, ExamStatus.CANCELLED, username, reason)
        for exam in found
        if exam.status in status.NOT_STARTED
    ]


class Visits(RisCore):
    """The service's visit methods."""

    def create_visit(self, patient_id: str, issuer: str, visit: VisitIn, *, username: str) -> Visit:
        """Record a visit (or update it when its number is known)."""
        with self._write() as conn:
            owner = records.patient_row(conn, patient_id, issuer)
            return upsert_visit(conn, owner, visit)

    def cancel_visit(self, visit_number: str, *, username: str, reason: str = "") -> Visit:
        """Cancel an admission/registration (A11): its exams not yet started are cancelled."""
        with self._write() as conn:
            row = visit_row(conn, visit_number)
            changes = cancel_exams(conn, row.id, username, reason or "visit cancelled")
            visit = set_visit(conn, visit_number, status="cancelled")
        self._publish(changes)
        return visit

    def discharge_visit(self, visit_number: str, *, username: str) -> Visit:
        """End a visit (A03)."""
        with self._write() as conn:
            return set_visit(conn, visit_number, status="discharged", discharged_at=records.now())

    def cancel_discharge(self, visit_number: str, *, username: str) -> Visit:
        """Undo a discharge (A13): the visit is active again."""
        with self._write() as conn:
            return set_visit(conn, visit_number, status="active", discharged_at=None)
