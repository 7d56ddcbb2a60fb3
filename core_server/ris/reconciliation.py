"""Images to exams: a stored study is matched to its exam by Study Instance UID, accession
number or requested procedure ID; a study that matches none waits on the reconciliation list
until an authorised user links it (the link rewrites the stored objects through
``Archive.correct``), splits some of its series off to another exam, or merges it into an
exam's study.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from pydicom import dcmread
from sqlalchemy import Connection, delete, insert, select, update

from core_server import db
from core_server.ris import records
from core_server.ris.base import EXAM_CHANGED, RisCore
from core_server.ris.models import Conflict, Exam, ExamStatus, NotFound, RisError, UnmatchedStudy
from core_server.ris.tables import (
    ris_exam_studies,
    ris_exams,
    ris_patients,
    ris_unmatched_studies,
)

log = logging.getLogger(__name__)


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
        first_seen=row.first_seen,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        exam_id=row.exam_fk,
    )


def unmatched_studies(conn: Connection, include_resolved: bool = False) -> list[UnmatchedStudy]:
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
            raise Conflict("ris.images.linked_elsewhere", study_uid=study_uid)
        conn.execute(
            update(ris_unmatched_studies)
            .where(ris_unmatched_studies.c.id == row.id)
            .values(resolved_at=records.now(), resolved_by=username, exam_fk=exam_id)
        )


def study_attributes(archive: Any, uid: str) -> dict[str, str]:
    """What matching reads of a stored study: the archive's study answer and the requested
    procedure ID from its first file (top level or Request Attributes Sequence)."""
    answers = archive.find("STUDY", {"StudyInstanceUID": uid, "ModalitiesInStudy": ""})
    answer: dict[str, Any] = next(answers, {})
    study = {k: str(v) for k, v in answer.items() if isinstance(v, str)}
    study["StudyInstanceUID"] = uid
    files = archive.locate({"StudyInstanceUID": uid})
    if files:
        try:
            header = dcmread(files[0].path, stop_before_pixels=True)
            rp_id = header.get("RequestedProcedureID") or next(
                (
                    item.get("RequestedProcedureID")
                    for item in header.get("RequestAttributesSequence", [])
                    if item.get("RequestedProcedureID")
                ),
                "",
            )
            study["RequestedProcedureID"] = str(rp_id or "")
        except Exception:
            log.exception("cannot read the header of %s", files[0].path)
    return study


class Reconciliation(RisCore):
    """The service's matching of stored images to exams, and the reconciliation list."""

    def on_instance_stored(self, topic: str, payload: dict[str, Any]) -> None:
        """Subscriber of ``archive.instance_stored``: match the study to its exam by Study
        Instance UID, accession number or requested procedure ID, else list it as unmatched.
        Only a study's first instance costs a look-up; later ones are remembered."""
        uid = payload.get("study_instance_uid") or ""
        if not uid or self.archive is None:
            return
        with self._seen_lock:
            if uid in self._seen_studies:
                return
        with db.read(self.engine) as conn:
            seen = known(conn, uid)
        if not seen:
            exam_id = self._file_study(uid, payload.get("ae_title") or "")
            if exam_id is not None:
                self.bus.publish(EXAM_CHANGED, {"exam_id": exam_id, "what": "images"})
        with self._seen_lock:
            if len(self._seen_studies) > 20000:
                self._seen_studies.clear()
            self._seen_studies[uid] = None

    def _file_study(self, uid: str, station_ae: str) -> int | None:
        """Link a new study to its exam, or list it as unmatched: the exam's id or None."""
        study = study_attributes(self.archive, uid)
        with self._write() as conn:
            if known(conn, uid):
                return None
            exam_id = match(conn, study)
            if exam_id is None:
                add_unmatched(conn, study, station_ae)
                log.info("study %s matches no exam: on the reconciliation list", uid)
            else:
                link(conn, exam_id, uid, "auto")
        return exam_id

    def unmatched(self, *, include_resolved: bool = False) -> list[UnmatchedStudy]:
        with db.read(self.engine) as conn:
            found = unmatched_studies(conn, include_resolved)
        counts = self._instance_counts([u.study_instance_uid for u in found])
        return [
            dataclasses.replace(u, instances=counts.get(u.study_instance_uid, 0)) for u in found
        ]

    def link_study(
        self, study_instance_uid: str, exam_id: int, *, username: str, reason: str = ""
    ) -> Exam:
        """Reconcile: rewrite the study's patient/study attributes to the exam's (through
        ``Archive.correct``) and attach it to the exam."""
        exam = self.exam(exam_id)
        if exam.status == ExamStatus.CANCELLED:
            raise Conflict("ris.images.exam_cancelled")
        self._require_study(study_instance_uid)
        self._correct(
            {"StudyInstanceUID": study_instance_uid},
            self._exam_identity(exam),
            reason=reason or f"linked to exam {exam.accession_number}",
            username=username,
        )
        with self._write() as conn:
            link(conn, exam_id, study_instance_uid, username)
            resolve(conn, study_instance_uid, exam_id, username)
        self.bus.publish(EXAM_CHANGED, {"exam_id": exam_id, "what": "images"})
        return self.exam(exam_id)

    def _exam_identity(self, exam: Exam, **more: str) -> dict[str, str]:
        """What images of the exam carry: its patient's identity, accession number and
        requested procedure ID."""
        patient = self.patient(exam.patient_id, exam.issuer)
        return self._identity(patient) | {
            "AccessionNumber": exam.accession_number,
            "RequestedProcedureID": exam.requested_procedure_id,
            **more,
        }

    def _require_study(self, study_uid: str) -> None:
        if self.archive is None or not self.archive.count("STUDY", {"StudyInstanceUID": study_uid}):
            raise NotFound("ris.images.study_not_found", study_uid=study_uid)

    def _target_study(self, exam: Exam) -> str:
        with db.read(self.engine) as conn:
            linked = studies_of(conn, exam.id)
        return linked[0] if linked else exam.study_instance_uid

    def split_study(
        self,
        study_instance_uid: str,
        series_instance_uids: list[str],
        exam_id: int,
        *,
        username: str,
        reason: str = "",
    ) -> Exam:
        """Move some series of a study to another exam (IHE PGP: images of two exams in one
        study): they take the exam's patient, accession number and study."""
        if not series_instance_uids:
            raise RisError("ris.images.no_series")
        exam = self.exam(exam_id)
        identity = self._exam_identity(exam)
        self._require_study(study_instance_uid)
        target = self._target_study(exam)
        if target == study_instance_uid:
            raise Conflict("ris.images.series_belong_already")
        self._correct(
            {"StudyInstanceUID": study_instance_uid, "SeriesInstanceUID": series_instance_uids},
            identity | {"StudyInstanceUID": target},
            reason=reason or f"series split off to exam {exam.accession_number}",
            username=username,
        )
        with self._write() as conn:
            link(conn, exam_id, target, username)
        self.bus.publish(EXAM_CHANGED, {"exam_id": exam_id, "what": "images"})
        return self.exam(exam_id)

    def merge_studies(
        self, from_study_uid: str, into_exam_id: int, *, username: str, reason: str = ""
    ) -> Exam:
        """Move a whole study into the exam's study (one exam acquired as two studies)."""
        exam = self.exam(into_exam_id)
        identity = self._exam_identity(exam)
        self._require_study(from_study_uid)
        target = self._target_study(exam)
        if target == from_study_uid:
            raise Conflict("ris.images.merge_into_itself")
        self._correct(
            {"StudyInstanceUID": from_study_uid},
            identity | {"StudyInstanceUID": target},
            reason=reason or f"study merged into exam {exam.accession_number}",
            username=username,
        )
        with self._write() as conn:
            unlink(conn, from_study_uid)
            link(conn, into_exam_id, target, username)
            resolve(conn, from_study_uid, into_exam_id, username)
        self.bus.publish(EXAM_CHANGED, {"exam_id": into_exam_id, "what": "images"})
        return self.exam(into_exam_id)
