"""Rows to dataclasses, the exam query every reader shares, and generated numbers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Select, select
from sqlalchemy.dialects import postgresql, sqlite

from core_server import clock
from core_server.ris.models import Exam, NotFound, Order, Patient, Visit
from core_server.ris.tables import (
    ris_counters,
    ris_exam_studies,
    ris_exams,
    ris_orders,
    ris_patients,
    ris_rooms,
    ris_visits,
)


def now() -> datetime:
    return clock.now()


def moment(value: datetime | None) -> datetime | None:
    """A time handed to the RIS, aware: one without a zone is the hospital's wall clock (a
    form's field, an HL7 TS without an offset, a modality's DA/TM)."""
    return None if value is None else clock.from_local(value)


def patient(row: Any, merged_into: str | None = None) -> Patient:
    return Patient(
        id=row.id,
        patient_id=row.patient_id,
        issuer=row.issuer,
        name=row.name,
        name_pinyin=row.name_pinyin,
        id_card_number=row.id_card_number,
        birth_date=date.fromisoformat(row.birth_date) if row.birth_date else None,
        sex=row.sex,
        phone=row.phone,
        address=row.address,
        merged_into=merged_into,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def patient_by_fk(conn: Connection, fk: int) -> Patient:
    row = conn.execute(select(ris_patients).where(ris_patients.c.id == fk)).one()
    return patient(row, _merged_into(conn, row))


def _merged_into(conn: Connection, row: Any) -> str | None:
    if row.merged_into_fk is None:
        return None
    return conn.execute(
        select(ris_patients.c.patient_id).where(ris_patients.c.id == row.merged_into_fk)
    ).scalar_one()


def patient_row(conn: Connection, patient_id: str, issuer: str = "") -> Any:
    row = conn.execute(
        select(ris_patients).where(
            ris_patients.c.patient_id == patient_id, ris_patients.c.issuer == issuer
        )
    ).first()
    if row is None:
        raise NotFound("ris.patient.not_found", patient_id=patient_id, issuer=issuer)
    return row


def to_patient(conn: Connection, row: Any) -> Patient:
    return patient(row, _merged_into(conn, row))


def visit(row: Any, patient_row: Any) -> Visit:
    return Visit(
        id=row.id,
        visit_number=row.visit_number,
        patient_id=patient_row.patient_id,
        issuer=patient_row.issuer,
        patient_class=row.patient_class,
        department=row.department,
        ward=row.ward,
        bed=row.bed,
        attending_doctor=row.attending_doctor,
        status=row.status,
        admitted_at=row.admitted_at,
        discharged_at=row.discharged_at,
    )


def exam_query() -> Select[Any]:
    """Exams with their order's and patient's columns, under names :func:`exam` reads."""
    return select(
        ris_exams,
        ris_orders.c.placer_order_number,
        ris_orders.c.filler_order_number,
        ris_orders.c.priority,
        ris_orders.c.emergency,
        ris_orders.c.bedside,
        ris_orders.c.referring_physician,
        ris_patients.c.patient_id,
        ris_patients.c.issuer,
        ris_patients.c.name.label("patient_name"),
        ris_patients.c.name_pinyin.label("patient_name_pinyin"),
        ris_rooms.c.name.label("room_name"),
    ).select_from(
        ris_exams.join(ris_orders, ris_orders.c.id == ris_exams.c.order_fk)
        .join(ris_patients, ris_patients.c.id == ris_exams.c.patient_fk)
        .outerjoin(ris_rooms, ris_rooms.c.code == ris_exams.c.room)
    )


def exam(row: Any) -> Exam:
    return Exam(
        id=row.id,
        accession_number=row.accession_number,
        requested_procedure_id=row.requested_procedure_id,
        scheduled_step_id=row.scheduled_step_id,
        study_instance_uid=row.study_instance_uid,
        order_id=row.order_fk,
        placer_order_number=row.placer_order_number,
        filler_order_number=row.filler_order_number,
        patient_id=row.patient_id,
        issuer=row.issuer,
        patient_name=row.patient_name,
        patient_name_pinyin=row.patient_name_pinyin,
        procedure_code=row.procedure_code,
        procedure_name=row.procedure_name,
        modality=row.modality,
        body_part=row.body_part,
        department=row.department,
        room=row.room,
        station_ae=row.station_ae,
        scheduled_at=row.scheduled_at,
        priority=row.priority,
        emergency=bool(row.emergency),
        bedside=bool(row.bedside),
        status=row.status,
        status_at=row.status_at,
        status_by=row.status_by,
        identity_confirmed=bool(row.identity_confirmed),
        requisition_confirmed=bool(row.requisition_confirmed),
        fee_confirmed=bool(row.fee_confirmed),
        retake_of=row.retake_of_fk,
        retake_kind=row.retake_kind,
        images=0,  # counted from the archive on read (RisCore._with_images)
        created_at=row.created_at,
        room_name=row.room_name or "",
        fee_fen=row.fee_fen,
    )


def exam_by_id(conn: Connection, exam_id: int) -> Exam:
    row = conn.execute(exam_query().where(ris_exams.c.id == exam_id)).first()
    if row is None:
        raise NotFound("ris.exam.not_found", exam_id=exam_id)
    return exam(row)


def order(conn: Connection, row: Any) -> Order:
    patient_row = conn.execute(
        select(ris_patients).where(ris_patients.c.id == row.patient_fk)
    ).one()
    visit_number = ""
    if row.visit_fk is not None:
        visit_number = conn.execute(
            select(ris_visits.c.visit_number).where(ris_visits.c.id == row.visit_fk)
        ).scalar_one()
    exams = tuple(
        exam(r)
        for r in conn.execute(
            exam_query().where(ris_exams.c.order_fk == row.id).order_by(ris_exams.c.id)
        )
    )
    return Order(
        id=row.id,
        placer_order_number=row.placer_order_number,
        placer_application=row.placer_application,
        filler_order_number=row.filler_order_number,
        patient_id=patient_row.patient_id,
        issuer=patient_row.issuer,
        visit_number=visit_number,
        referring_physician=row.referring_physician,
        referring_department=row.referring_department,
        clinical_info=row.clinical_info,
        priority=row.priority,
        emergency=bool(row.emergency),
        bedside=bool(row.bedside),
        status=row.status,
        exams=exams,
    )


def next_number(conn: Connection, name: str) -> int:
    """The next value of a named counter, taken inside the caller's write transaction (an
    upsert, so two processes creating the day's counter at once get different values)."""
    dialect = conn.dialect.name
    insert_ = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert_(ris_counters)
        .values(name=name, value=1)
        .on_conflict_do_update(
            index_elements=[ris_counters.c.name], set_={"value": ris_counters.c.value + 1}
        )
        .returning(ris_counters.c.value)
    )
    return int(conn.execute(statement).scalar_one())


def day_number(conn: Connection, kind: str, on: date | None = None) -> str:
    """``YYYYMMDD`` + a 5-digit sequence of the day (13 characters: fits DICOM's SH of 16),
    e.g. accession ``2026112900001``; ``kind`` keeps the sequences apart."""
    day = (on or clock.today()).strftime("%Y%m%d")  # the hospital's day
    return f"{day}{next_number(conn, f'{kind}-{day}'):05d}"


def studies_of_many(conn: Connection, exam_ids: list[int]) -> dict[int, list[str]]:
    """The stored studies linked to each exam (matched or reconciled)."""
    found: dict[int, list[str]] = {}
    if not exam_ids:
        return found
    for exam_fk, uid in conn.execute(
        select(ris_exam_studies.c.exam_fk, ris_exam_studies.c.study_instance_uid).where(
            ris_exam_studies.c.exam_fk.in_(exam_ids)
        )
    ):
        found.setdefault(exam_fk, []).append(uid)
    return found
