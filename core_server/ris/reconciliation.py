"""Images to exams: a stored study is matched to its exam by Study Instance UID, accession
number or requested procedure ID; a study that matches none waits on the reconciliation list
until an authorised user links it (the link rewrites the stored objects, see ``Ris.link_study``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from core_server.ris import records
from core_server.ris.models import Conflict, NotFound, UnmatchedStudy
from core_server.ris.tables import (
    ris_exam_studies,
    ris_exams,
    ris_patients,
    ris_unmatched_studies,
)


def known(conn: Connection, study_uid: str) -> bool:
    """Has this study been matched or listed already?"""
    for table in (ris_exam_studies, ris_unmatched_studies):
        if conn.execute(select(table.c.id).where(table.c.study_instance_uid == study_uid)).first():
            return True
    return False


def match(conn: Connection, study: Mapping[str, str]) -> int | None:
    """The exam the study belongs to: ours by Study Instance UID (the worklist gave it), else
    by accession number, else by requested procedure ID, and only when the images name the
    exam's patient (or no patient ID at all): an accession number typed wrong at the console
    must not file one patient's images under another, so such a study waits for a person.
    Cancelled exams match nothing."""
    patient_id = (study.get("PatientID") or "").strip()
    for keyword, column in (
        ("StudyInstanceUID", ris_exams.c.study_instance_uid),
        ("AccessionNumber", ris_exams.c.accession_number),
        ("RequestedProcedureID", ris_exams.c.requested_procedure_id),
    ):
        value = (study.get(keyword) or "").strip()
        if not value:
            continue
        query = (
            select(ris_exams.c.id)
            .join(ris_patients, ris_patients.c.id == ris_exams.c.patient_fk)
            .where(column == value, ris_exams.c.status != "cancelled")
            .order_by(ris_exams.c.id.desc())
        )
        if patient_id:
            query = query.where(ris_patients.c.patient_id == patient_id)
        row = conn.execute(query).first()
        if row is not None:
            return int(row[0])
    return None


def link(conn: Connection, exam_id: int, study_uid: str, username: str) -> None:
    existing = conn.execute(
        select(ris_exam_studies).where(ris_exam_studies.c.study_instance_uid == study_uid)
    ).first()
    if existing is not None:
        if existing.exam_fk == exam_id:
            return
        conn.execute(
            update(ris_exam_studies)
            .where(ris_exam_studies.c.id == existing.id)
            .values(exam_fk=exam_id, linked_by=username, linked_at=records.now())
        )
        return
    conn.execute(
        insert(ris_exam_studies).values(
            exam_fk=exam_id,
            study_instance_uid=study_uid,
            linked_by=username,
            linked_at=records.now(),
        )
    )


def unlink(conn: Connection, study_uid: str) -> None:
    conn.execute(delete(ris_exam_studies).where(ris_exam_studies.c.study_instance_uid == study_uid))


def studies_of(conn: Connection, exam_id: int) -> list[str]:
    return [
        uid
        for (uid,) in conn.execute(
            select(ris_exam_studies.c.study_instance_uid)
            .where(ris_exam_studies.c.exam_fk == exam_id)
            .order_by(ris_exam_studies.c.id)
        )
    ]


def studies_of_many(conn: Connection, exam_ids: list[int]) -> dict[int, list[str]]:
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


def add_unmatched(conn: Connection, study: Mapping[str, str], station_ae: str) -> None:
    conn.execute(
        insert(ris_unmatched_studies).values(
            study_instance_uid=study["StudyInstanceUID"],
            patient_id=(study.get("PatientID") or "")[:64],
            patient_name=(study.get("PatientName") or "")[:324],
            accession_number=(study.get("AccessionNumber") or "")[:64],
            modality=(study.get("ModalitiesInStudy") or "").split("\\")[0][:16],
            study_date=(study.get("StudyDate") or "")[:8],
            station_ae=station_ae[:16],
            first_seen=records.now(),
        )
    )


def _unmatched(row: Any) -> UnmatchedStudy:
    return UnmatchedStudy(
        id=row.id,
        study_instance_uid=row.study_instance_uid,
        patient_id=row.patient_id,
        patient_name=row.patient_name,
        accession_number=row.accession_number,
        modality=row.modality,
        study_date=row.study_date,
        station_ae=row.station_ae,
        instances=0,  # counted from the archive on read (Ris.unmatched)
        first_seen=records.aware(row.first_seen),  # type: ignore[arg-type]
        resolved_at=records.aware(row.resolved_at),
        resolved_by=row.resolved_by,
        exam_id=row.exam_fk,
    )


def unmatched(conn: Connection, include_resolved: bool = False) -> list[UnmatchedStudy]:
    query = select(ris_unmatched_studies).order_by(ris_unmatched_studies.c.first_seen.desc())
    if not include_resolved:
        query = query.where(ris_unmatched_studies.c.resolved_at.is_(None))
    return [_unmatched(r) for r in conn.execute(query)]


def unmatched_row(conn: Connection, study_uid: str) -> Any:
    return conn.execute(
        select(ris_unmatched_studies).where(ris_unmatched_studies.c.study_instance_uid == study_uid)
    ).first()


def resolve(conn: Connection, study_uid: str, exam_id: int, username: str) -> None:
    row = unmatched_row(conn, study_uid)
    if row is not None:
        if row.resolved_at is not None and row.exam_fk != exam_id:
            raise Conflict(f"影像已关联到其他检查 / study {study_uid} was linked to another exam")
        conn.execute(
            update(ris_unmatched_studies)
            .where(ris_unmatched_studies.c.id == row.id)
            .values(resolved_at=records.now(), resolved_by=username, exam_fk=exam_id)
        )


def require_exam(conn: Connection, exam_id: int) -> None:
    if conn.execute(select(ris_exams.c.id).where(ris_exams.c.id == exam_id)).first() is None:
        raise NotFound(f"检查不存在 / no exam {exam_id}")
