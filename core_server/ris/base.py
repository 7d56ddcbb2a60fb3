"""What every part of the :class:`~core_server.ris.service.Ris` service shares: its engine,
bus and archive, the write transaction, publishing status changes, correcting stored images,
and reading one exam or patient.

Each job of the RIS is a module holding its row-level steps and a part of the service (a
mixin on :class:`RisCore`): ``patients``, ``visits``, ``orders``, ``exams``, ``exam_desk``,
``appointments``, ``catalogue``, ``requisitions``, ``modality`` (worklist and MPPS) and
``reconciliation`` (images to exams). Every public method is one transaction; every exam
status change is recorded with who and when and published on the bus after the commit.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from core_server import db
from core_server.archive import Archive, CorrectionError
from core_server.events import EventBus
from core_server.ris import records
from core_server.ris.models import (
    EXAM_STATUS_CHANGED,
    Conflict,
    Exam,
    NotFound,
    Patient,
    RisError,
    StatusChange,
)

log = logging.getLogger(__name__)

EXAM_CHANGED = "ris.exam_changed"  # booked, procedure changed, images linked (no status change)

# Any fixed 64-bit key: the PostgreSQL advisory lock every RIS write transaction takes first.
_WRITE_LOCK = 0x52495357  # "RISW"


class RisCore:
    def __init__(
        self,
        engine: Engine,
        bus: EventBus,
        archive: Archive | None = None,
        *,
        files_dir: Path | None = None,
    ) -> None:
        """``files_dir``: where requisition scans are kept (``<data-dir>/ris``)."""
        self.engine = engine
        self.bus = bus
        self.archive = archive
        self.files_dir = files_dir
        self._seen_studies: dict[str, None] = {}
        self._seen_lock = threading.Lock()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction; a unique key taken meanwhile by another process or thread
        (the same accession number, placer number or patient ID at the same moment) is a
        :class:`Conflict`, said for the user, not a server error."""
        try:
            with db.write(self.engine) as conn:
                # The status history is an outbox read by cursor (Ris.status_changes).
                db.serialize_writes(conn, _WRITE_LOCK)
                yield conn
        except IntegrityError as exc:
            log.info("write refused by a constraint: %s", exc.orig)
            raise Conflict("ris.concurrent_change") from exc

    def _publish(self, changes: list[StatusChange]) -> None:
        for change in changes:
            try:
                exam = self.exam(change.exam_id)
            except NotFound:
                continue
            self.bus.publish(
                EXAM_STATUS_CHANGED,
                change.as_event()
                | {
                    "patient_id": exam.patient_id,
                    "issuer": exam.issuer,
                    "patient_name": exam.patient_name,
                    "patient_display_name": exam.patient_display_name,
                    "placer_order_number": exam.placer_order_number,
                    "filler_order_number": exam.filler_order_number,
                    "modality": exam.modality,
                    "room": exam.room,
                    "procedure_code": exam.procedure_code,
                    "emergency": exam.emergency,
                    "priority": exam.priority,
                },
            )

    def _correct(
        self, selector: dict[str, Any], changes: dict[str, str], *, reason: str, username: str
    ) -> Any:
        """Rewrite stored objects through ``Archive.correct`` (IHE PIR/PGP); nothing to do when
        no object matches."""
        if self.archive is None:
            return None
        level = "IMAGE" if "SeriesInstanceUID" in selector else "STUDY"
        keys = {k: "\\".join(v) if isinstance(v, list) else v for k, v in selector.items()}
        if not self.archive.count(level, keys):
            return None
        try:
            return self.archive.correct(selector, changes, reason=reason, username=username)
        except CorrectionError as exc:
            raise RisError("ris.images.correction_refused", reason=str(exc)) from exc

    @staticmethod
    def _identity(patient: Patient) -> dict[str, str]:
        """The patient's identity as the stored images carry it."""
        return {
            "PatientID": patient.patient_id,
            "IssuerOfPatientID": patient.issuer,
            "PatientName": patient.dicom_name,
            "PatientBirthDate": patient.birth_date.strftime("%Y%m%d") if patient.birth_date else "",
            "PatientSex": patient.sex,
        }

    def _with_images(self, found: list[Exam]) -> list[Exam]:
        """Fill in how many instances the archive holds for each exam's studies."""
        if not found or self.archive is None:
            return found
        with db.read(self.engine) as conn:
            studies = records.studies_of_many(conn, [e.id for e in found])
        counts = self._instance_counts([uid for uids in studies.values() for uid in uids])
        return [
            dataclasses.replace(
                e,
                images=sum(counts.get(u, 0) for u in studies.get(e.id, [])),
                studies=tuple(u for u in studies.get(e.id, []) if counts.get(u)),
            )
            for e in found
        ]

    def _instance_counts(self, study_uids: list[str]) -> dict[str, int]:
        if not study_uids or self.archive is None:
            return {}
        answers = self.archive.find(
            "STUDY",
            {"StudyInstanceUID": "\\".join(study_uids), "NumberOfStudyRelatedInstances": ""},
        )
        return {
            a["StudyInstanceUID"]: int(a.get("NumberOfStudyRelatedInstances") or 0) for a in answers
        }

    # -- the two reads every part needs ---------------------------------------------------------

    def exam(self, exam_id: int) -> Exam:
        with db.read(self.engine) as conn:
            found = records.exam_by_id(conn, exam_id)
        return self._with_images([found])[0]

    def patient(self, patient_id: str, issuer: str = "") -> Patient:
        """The patient with this ID (and issuer); :class:`NotFound` otherwise."""
        with db.read(self.engine) as conn:
            return records.to_patient(conn, records.patient_row(conn, patient_id, issuer))

    # Implemented by the reconciliation part; the orders part links the images that arrived
    # before their order.
    def link_study(
        self, study_instance_uid: str, exam_id: int, *, username: str, reason: str = ""
    ) -> Exam:
        raise NotImplementedError
