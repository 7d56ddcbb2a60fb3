"""The RIS's public face: what adapters (web, HL7, DICOM MWL/MPPS) and the queue service call.

Every method is one transaction; every exam status change is recorded with who and when and
published on the bus as :data:`~core_server.ris.models.EXAM_STATUS_CHANGED` after the commit.
``username`` is the person or system acting (``hl7:HIS``, ``mpps:CT01``...), kept in the history.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pydicom import dcmread
from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from core_server import db
from core_server.archive import Archive, CorrectionError
from core_server.events import EventBus
from core_server.ris import (
    catalogue,
    exams,
    patients,
    performed,
    reconciliation,
    records,
    status,
    worklist,
)
from core_server.ris.models import (
    EXAM_STATUS_CHANGED,
    Appointment,
    Conflict,
    Department,
    Exam,
    ExamStatus,
    NotFound,
    Order,
    OrderIn,
    Patient,
    PatientIn,
    PerformedStep,
    Procedure,
    Requisition,
    RisError,
    Room,
    Slot,
    StatusChange,
    UnmatchedStudy,
    Visit,
    VisitIn,
    WorklistItem,
)
from core_server.ris.tables import ris_exams, ris_orders, ris_requisitions

log = logging.getLogger(__name__)

EXAM_CHANGED = "ris.exam_changed"  # booked, procedure changed, images linked (no status change)
# Scanned request forms: PDF, JPEG, PNG, TIFF, recognised by their first bytes.
_REQUISITION_TYPES = {
    b"%PDF": ("application/pdf", ".pdf"),
    b"\xff\xd8\xff": ("image/jpeg", ".jpg"),
    b"\x89PNG": ("image/png", ".png"),
    b"II*\x00": ("image/tiff", ".tif"),
    b"MM\x00*": ("image/tiff", ".tif"),
}
MAX_REQUISITION_BYTES = 20 * 1024 * 1024


class Ris:
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

    def start(self) -> None:
        """Seed an empty catalogue and match images as the archive stores them."""
        with self._write() as conn:
            catalogue.seed(conn)
        if self.archive is not None:
            self.archive.bus.subscribe("archive.instance_stored", self.on_instance_stored)

    # -- internal helpers ---------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction; a unique key taken meanwhile by another process or thread
        (the same accession number, placer number or patient ID at the same moment) is a
        :class:`Conflict`, said for the user, not a server error."""
        try:
            with db.write(self.engine) as conn:
                exams.serialize_writes(conn)
                yield conn
        except IntegrityError as exc:
            log.info("write refused by a constraint: %s", exc.orig)
            raise Conflict(
                "记录已被同时创建或修改，请重试 / the record was created or changed at the same "
                "moment by someone else; try again"
            ) from exc

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
            raise RisError(
                f"影像更正被拒绝 / the stored images could not be corrected: {exc}"
            ) from exc

    @staticmethod
    def _identity(patient: Patient) -> dict[str, str]:
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
            studies = reconciliation.studies_of_many(conn, [e.id for e in found])
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

    # -- patients -----------------------------------------------------------------------------

    def register_patient(self, patient: PatientIn, *, username: str) -> Patient:
        """Create the patient, or update it when ``patient_id``/``issuer`` is known (A01/A04
        on a known patient is an update). The pinyin name is computed when not given."""
        values = patients.clean(patient)
        with self._write() as conn:
            row, old = patients.upsert(conn, values)
            registered = records.to_patient(conn, row)
        if old is not None:
            self._propagate(registered, old, username)
        return registered

    def update_patient(
        self, patient_id: str, issuer: str, patient: PatientIn, *, username: str
    ) -> Patient:
        """Change a patient's demographics (A08). The change reaches the worklist at once and
        the stored images through ``Archive.correct`` (IHE PIR). The patient's ID itself
        changes only by a merge."""
        values = patients.clean(dataclasses.replace(patient, patient_id=patient_id, issuer=issuer))
        with self._write() as conn:
            old = records.patient_row(conn, patient_id, issuer)
            row, _ = patients.upsert(conn, values)
            updated = records.to_patient(conn, row)
        self._propagate(updated, old, username)
        return updated

    def _propagate(self, patient: Patient, old: Any, username: str) -> None:
        before = records.patient(old)
        if self._identity(before) == self._identity(patient):
            return
        self._correct(
            {"PatientID": patient.patient_id},
            self._identity(patient),
            reason="patient demographics updated",
            username=username,
        )

    def merge_patients(
        self,
        surviving: tuple[str, str],
        merged: tuple[str, str],
        *,
        username: str,
    ) -> Patient:
        """Merge patient ``merged`` (ID, issuer) into ``surviving`` (A40): its visits, orders
        and exams move over, it is kept as merged, and its stored images are re-identified.
        Merging a patient into itself is refused."""
        if tuple(surviving) == tuple(merged):
            raise Conflict("不能将患者合并到其自身 / a patient cannot be merged into itself")
        with self._write() as conn:
            keep = records.patient_row(conn, *surviving)
            gone = records.patient_row(conn, *merged)
            patients.merge(conn, keep, gone)
            result = records.to_patient(conn, keep)
        self._correct(
            {"PatientID": merged[0]},
            self._identity(result),
            reason=f"patient {merged[0]} merged into {surviving[0]}",
            username=username,
        )
        return result

    def patient(self, patient_id: str, issuer: str = "") -> Patient:
        """The patient with this ID (and issuer); :class:`NotFound` otherwise."""
        with db.read(self.engine) as conn:
            return records.to_patient(conn, records.patient_row(conn, patient_id, issuer))

    def find_patients(
        self,
        *,
        patient_id: str = "",
        id_card_number: str = "",
        name: str = "",
        birth_date: date | None = None,
        text: str = "",
        limit: int = 50,
    ) -> list[Patient]:
        """Existing patients by ID, ID-card number, or name (Chinese, or pinyin) + birth date;
        ``text`` searches ID, card number, phone, name and pinyin (initials) at once."""
        with db.read(self.engine) as conn:
            rows = patients.search(
                conn,
                patient_id=patient_id,
                id_card_number=id_card_number,
                name=name,
                birth_date=birth_date,
                text=text,
                limit=limit,
            )
            return [records.to_patient(conn, r) for r in rows]

    # -- visits -------------------------------------------------------------------------------

    def create_visit(self, patient_id: str, issuer: str, visit: VisitIn, *, username: str) -> Visit:
        """Record a visit (or update it when its number is known)."""
        with self._write() as conn:
            owner = records.patient_row(conn, patient_id, issuer)
            return patients.upsert_visit(conn, owner, visit)

    def cancel_visit(self, visit_number: str, *, username: str, reason: str = "") -> Visit:
        """Cancel an admission/registration (A11): its exams not yet started are cancelled."""
        with self._write() as conn:
            row = patients.visit_row(conn, visit_number)
            changes: list[StatusChange] = []
            for order in conn.execute(
                select(ris_orders).where(ris_orders.c.visit_fk == row.id)
            ).all():
                for exam in conn.execute(
                    select(ris_exams.c.id, ris_exams.c.status).where(
                        ris_exams.c.order_fk == order.id
                    )
                ).all():
                    if exam.status in status.NOT_STARTED:
                        changes.append(
                            exams.transition(
                                conn,
                                exam.id,
                                ExamStatus.CANCELLED,
                                username,
                                reason or "visit cancelled",
                            )
                        )
            visit = patients.set_visit(conn, visit_number, status="cancelled")
        self._publish(changes)
        return visit

    def discharge_visit(self, visit_number: str, *, username: str) -> Visit:
        """End a visit (A03)."""
        with self._write() as conn:
            return patients.set_visit(
                conn, visit_number, status="discharged", discharged_at=records.now()
            )

    def cancel_discharge(self, visit_number: str, *, username: str) -> Visit:
        """Undo a discharge (A13): the visit is active again."""
        with self._write() as conn:
            return patients.set_visit(conn, visit_number, status="active", discharged_at=None)

    # -- orders -------------------------------------------------------------------------------

    def place_order(self, patient_id: str, issuer: str, order: OrderIn, *, username: str) -> Order:
        """A new order with one exam per requested procedure (status scheduled). Accession
        numbers, requested procedure IDs, the filler order number and the Study Instance UID
        are generated when not given; the same placer order number again is :class:`Conflict`."""
        with self._write() as conn:
            owner = records.patient_row(conn, patient_id, issuer)
            order_id, changes = exams.create_order(conn, owner, order, username)
            row = conn.execute(select(ris_orders).where(ris_orders.c.id == order_id)).one()
            placed = records.order(conn, row)
        self._publish(changes)
        self._adopt_waiting(placed)
        return placed

    def _adopt_waiting(self, order: Order) -> None:
        """Images that arrived before their order (an emergency scanned first, the order typed
        in afterwards) are on the reconciliation list: link those naming this patient and one
        of the new accession numbers (or Study Instance UIDs the HIS gave)."""
        with db.read(self.engine) as conn:
            waiting = reconciliation.unmatched(conn)
        for study in waiting:
            exam = next(
                (
                    e
                    for e in order.exams
                    if e.accession_number == study.accession_number
                    or e.study_instance_uid == study.study_instance_uid
                ),
                None,
            )
            if exam is not None and study.patient_id == order.patient_id:
                try:
                    self.link_study(
                        study.study_instance_uid, exam.id, username="auto", reason="order arrived"
                    )
                except RisError:
                    log.exception("could not link waiting study %s", study.study_instance_uid)

    def change_order(self, order: OrderIn, *, username: str) -> Order:
        """Change an order found by its placer number (XO): priority, flags, scheduled time,
        room and the procedures of exams not yet started."""
        with self._write() as conn:
            row = exams.order_row(
                conn,
                placer_order_number=order.placer_order_number,
                placer_application=order.placer_application,
                filler_order_number=order.filler_order_number,
            )
            changes = exams.change_order(conn, row, order, username)
            row = conn.execute(select(ris_orders).where(ris_orders.c.id == row.id)).one()
            changed = records.order(conn, row)
        self._publish(changes)
        return changed

    def cancel_order(
        self,
        *,
        placer_order_number: str = "",
        placer_application: str = "",
        filler_order_number: str = "",
        username: str,
        reason: str = "",
    ) -> Order:
        """Cancel an order (CA): every exam not yet started is cancelled; an order with a
        started exam is :class:`Conflict`."""
        with self._write() as conn:
            row = exams.order_row(
                conn,
                placer_order_number=placer_order_number,
                placer_application=placer_application,
                filler_order_number=filler_order_number,
            )
            changes = exams.cancel_order(conn, row, username, reason or "order cancelled")
            row = conn.execute(select(ris_orders).where(ris_orders.c.id == row.id)).one()
            cancelled = records.order(conn, row)
        self._publish(changes)
        return cancelled

    def order(
        self,
        *,
        placer_order_number: str = "",
        placer_application: str = "",
        filler_order_number: str = "",
    ) -> Order:
        with db.read(self.engine) as conn:
            row = exams.order_row(
                conn,
                placer_order_number=placer_order_number,
                placer_application=placer_application,
                filler_order_number=filler_order_number,
            )
            return records.order(conn, row)

    # -- exams --------------------------------------------------------------------------------

    def exam(self, exam_id: int) -> Exam:
        with db.read(self.engine) as conn:
            found = records.exam_by_id(conn, exam_id)
        return self._with_images([found])[0]

    def exam_by_accession(self, accession_number: str) -> Exam:
        """Query exam status by accession number (HIS, queue check-in by barcode)."""
        with db.read(self.engine) as conn:
            row = conn.execute(
                records.exam_query().where(ris_exams.c.accession_number == accession_number.strip())
            ).first()
        if row is None:
            raise NotFound(f"检查号不存在 / no exam with accession number {accession_number!r}")
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
        """Exams by scheduled day, modality, room, status, patient: the technician's worklist
        and the registration desk's list. Emergencies first, then by scheduled time."""
        statuses = [status] if isinstance(status, str) and status else list(status or [])
        with db.read(self.engine) as conn:
            found = exams.listing(
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
        """End of day: exams still ``scheduled`` for a day before ``before`` become ``no_show``
        (the patient can still arrive late or be rebooked)."""
        start = datetime.combine(before, datetime.min.time())
        with self._write() as conn:
            late = conn.execute(
                select(ris_exams.c.id).where(
                    ris_exams.c.status == ExamStatus.SCHEDULED, ris_exams.c.scheduled_at < start
                )
            ).all()
            changes = [
                exams.transition(
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
            return exams.changes_after(conn, after, limit)

    def last_status_change(self) -> int:
        """The ``change_id`` of the newest status change (0 when there is none)."""
        with db.read(self.engine) as conn:
            return exams.last_change_id(conn)

    def history(self, exam_id: int) -> list[StatusChange]:
        """Every status change of the exam, oldest first."""
        with db.read(self.engine) as conn:
            return exams.history(conn, exam_id)

    def change_status(
        self, exam_id: int, new_status: str, *, username: str, reason: str = ""
    ) -> Exam:
        """Move an exam along the status machine (:mod:`core_server.ris.status`); an illegal
        step is :class:`IllegalTransition` with the allowed ones named."""
        with self._write() as conn:
            change = exams.transition(conn, exam_id, new_status, username, reason)
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
            change = exams.retake(conn, exam_id, kind, username, procedure_code, reason)
        self._publish([change])
        return self.exam(change.exam_id)

    def change_procedure(
        self, exam_id: int, procedure_code: str, *, username: str, reason: str = ""
    ) -> Exam:
        """Change the exam item of an exam not yet completed (modality and body part follow)."""
        with self._write() as conn:
            exams.change_procedure(conn, exam_id, procedure_code, username, reason)
        changed = self.exam(exam_id)
        self.bus.publish(EXAM_CHANGED, {"exam_id": exam_id, "what": "procedure"})
        return changed

    # -- catalogue ----------------------------------------------------------------------------

    def departments(self) -> list[Department]:
        with db.read(self.engine) as conn:
            return catalogue.departments(conn)

    def procedures(self, *, modality: str = "", active_only: bool = True) -> list[Procedure]:
        with db.read(self.engine) as conn:
            return catalogue.procedures(conn, modality, active_only)

    def save_procedure(self, procedure: Procedure, *, username: str) -> Procedure:
        with self._write() as conn:
            return catalogue.save_procedure(conn, procedure)

    def rooms(self, *, modality: str = "") -> list[Room]:
        with db.read(self.engine) as conn:
            return catalogue.rooms(conn, modality)

    def save_room(self, room: Room, *, username: str) -> Room:
        with self._write() as conn:
            return catalogue.save_room(conn, room)

    # -- appointments -------------------------------------------------------------------------

    def slots(self, room: str, day: date) -> list[Slot]:
        """The room's slots of the day with how many are booked."""
        with db.read(self.engine) as conn:
            return exams.slots(conn, room, day)

    def book(self, exam_id: int, room: str, start: datetime, *, username: str) -> Appointment:
        """Book the exam into a slot (moving any earlier booking); a full slot is Conflict."""
        with self._write() as conn:
            values = exams.book(conn, exam_id, room, start, username)
        self.bus.publish(EXAM_CHANGED, {"exam_id": exam_id, "what": "booked"})
        return Appointment(
            exam_id, values["room"], values["start"], values["booked_by"], values["booked_at"]
        )

    def check_in(self, exam_id: int, *, username: str) -> Exam:
        """Arrival at the desk or ticket printer: the exam becomes ``arrived``."""
        return self.change_status(exam_id, ExamStatus.ARRIVED, username=username, reason="check-in")

    # -- requisitions -------------------------------------------------------------------------

    def attach_requisition(
        self, exam_id: int, filename: str, content_type: str, data: bytes, *, username: str
    ) -> Requisition:
        """Store a scanned request form (PDF, JPEG, PNG, TIFF) durably under the data dir:
        written, fsynced and renamed into place before its row is committed."""
        if self.files_dir is None:
            raise RisError("requisition storage is not configured")
        if not data:
            raise RisError("上传的文件为空 / the uploaded file is empty")
        if len(data) > MAX_REQUISITION_BYTES:
            raise RisError("文件超过20MB / the file is larger than 20 MB")
        kind = next((v for k, v in _REQUISITION_TYPES.items() if data.startswith(k)), None)
        if kind is None:
            raise RisError(
                "只接受 PDF、JPEG、PNG 或 TIFF 文件 / "
                "only PDF, JPEG, PNG or TIFF scans are accepted"
            )
        with db.read(self.engine) as conn:
            exams.exam_row(conn, exam_id)
        stamp = records.now()
        relative = Path(stamp.strftime("%Y/%m")) / f"{uuid.uuid4().hex}{kind[1]}"
        target = self.files_dir / "requisitions" / relative
        _write_durably(target, data)
        digest = hashlib.sha256(data).hexdigest()
        name = Path(filename or f"requisition{kind[1]}").name[:255]
        try:
            with self._write() as conn:
                exams.exam_row(conn, exam_id)
                new_id = conn.execute(
                    insert(ris_requisitions)
                    .values(
                        exam_fk=exam_id,
                        filename=name,
                        content_type=kind[0],
                        path=str(relative),
                        size=len(data),
                        sha256=digest,
                        uploaded_by=username,
                        uploaded_at=stamp,
                    )
                    .returning(ris_requisitions.c.id)
                ).scalar_one()
        except Exception:
            target.unlink(missing_ok=True)
            raise
        return Requisition(new_id, exam_id, name, kind[0], len(data), digest, username, stamp)

    def requisitions(self, exam_id: int) -> list[Requisition]:
        with db.read(self.engine) as conn:
            rows = conn.execute(
                select(ris_requisitions)
                .where(ris_requisitions.c.exam_fk == exam_id)
                .order_by(ris_requisitions.c.id)
            ).all()
        return [_requisition(r) for r in rows]

    def requisition_file(self, requisition_id: int) -> tuple[Requisition, Path]:
        with db.read(self.engine) as conn:
            row = conn.execute(
                select(ris_requisitions).where(ris_requisitions.c.id == requisition_id)
            ).first()
        if row is None or self.files_dir is None:
            raise NotFound(f"申请单扫描件不存在 / no requisition {requisition_id}")
        return _requisition(row), self.files_dir / "requisitions" / row.path

    # -- modality worklist and MPPS -----------------------------------------------------------

    def worklist(self, keys: Mapping[str, str]) -> Iterator[WorklistItem]:
        """Scheduled procedure steps matching MWL keys (ScheduledStationAETitle, Modality,
        ScheduledProcedureStepStartDate (ranges), PatientID, PatientName, AccessionNumber...),
        given flat: the keys of the Scheduled Procedure Step Sequence's item beside the others."""
        with db.read(self.engine) as conn:
            found = worklist.find(conn, keys)
        yield from found

    def performed_step_created(
        self, sop_instance_uid: str, attributes: Mapping[str, Any], *, station_ae: str
    ) -> PerformedStep:
        """MPPS N-CREATE (IN PROGRESS): the referenced exam goes ``in_progress``."""
        changes = []
        with self._write() as conn:
            step = performed.create(conn, sop_instance_uid, attributes, station_ae)
            if step.exam_id is not None:
                current = exams.exam_row(conn, step.exam_id).status
                if current in (ExamStatus.SCHEDULED, ExamStatus.ARRIVED, ExamStatus.NO_SHOW):
                    if current == ExamStatus.NO_SHOW:
                        changes.append(
                            exams.transition(
                                conn, step.exam_id, ExamStatus.ARRIVED, f"mpps:{station_ae}"
                            )
                        )
                    changes.append(
                        exams.transition(
                            conn,
                            step.exam_id,
                            ExamStatus.IN_PROGRESS,
                            f"mpps:{station_ae}",
                            "MPPS IN PROGRESS",
                        )
                    )
        self._publish(changes)
        return step

    def performed_step_set(
        self, sop_instance_uid: str, attributes: Mapping[str, Any], *, station_ae: str
    ) -> PerformedStep:
        """MPPS N-SET: COMPLETED completes the exam; DISCONTINUED returns it to ``arrived``
        (the patient may be examined again). Only an exam still in progress moves."""
        changes = []
        with self._write() as conn:
            step, _before = performed.set_(conn, sop_instance_uid, attributes)
            if step.exam_id is not None and step.status != performed.IN_PROGRESS:
                current = exams.exam_row(conn, step.exam_id).status
                target = (
                    ExamStatus.COMPLETED
                    if step.status == performed.COMPLETED
                    else ExamStatus.ARRIVED
                )
                if current == ExamStatus.IN_PROGRESS:
                    reason = f"MPPS {step.status}"
                    if step.status == performed.DISCONTINUED:
                        why = attributes.get("PerformedProcedureStepDiscontinuationReason")
                        reason += f": {why}" if why else ""
                    changes.append(
                        exams.transition(conn, step.exam_id, target, f"mpps:{station_ae}", reason)
                    )
        self._publish(changes)
        return step

    def performed_steps(self, exam_id: int) -> list[PerformedStep]:
        with db.read(self.engine) as conn:
            return performed.for_exam(conn, exam_id)

    # -- matching and reconciliation ----------------------------------------------------------

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
            seen = reconciliation.known(conn, uid)
        exam_id = None
        if not seen:
            study = self._study_attributes(uid)
            with self._write() as conn:
                if not reconciliation.known(conn, uid):
                    exam_id = reconciliation.match(conn, study)
                    if exam_id is None:
                        reconciliation.add_unmatched(conn, study, payload.get("ae_title") or "")
                        log.info("study %s matches no exam: on the reconciliation list", uid)
                    else:
                        reconciliation.link(conn, exam_id, uid, "auto")
            if exam_id is not None:
                self.bus.publish(EXAM_CHANGED, {"exam_id": exam_id, "what": "images"})
        with self._seen_lock:
            if len(self._seen_studies) > 20000:
                self._seen_studies.clear()
            self._seen_studies[uid] = None

    def _study_attributes(self, uid: str) -> dict[str, str]:
        assert self.archive is not None
        answer = next(
            self.archive.find("STUDY", {"StudyInstanceUID": uid, "ModalitiesInStudy": ""}), {}
        )
        study = {k: str(v) for k, v in answer.items() if isinstance(v, str)}
        study["StudyInstanceUID"] = uid
        files = self.archive.locate({"StudyInstanceUID": uid})
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

    def unmatched(self, *, include_resolved: bool = False) -> list[UnmatchedStudy]:
        with db.read(self.engine) as conn:
            found = reconciliation.unmatched(conn, include_resolved)
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
            raise Conflict("不能关联到已取消的检查 / cannot link images to a cancelled exam")
        patient = self.patient(exam.patient_id, exam.issuer)
        self._require_study(study_instance_uid)
        self._correct(
            {"StudyInstanceUID": study_instance_uid},
            self._identity(patient)
            | {
                "AccessionNumber": exam.accession_number,
                "RequestedProcedureID": exam.requested_procedure_id,
            },
            reason=reason or f"linked to exam {exam.accession_number}",
            username=username,
        )
        with self._write() as conn:
            reconciliation.link(conn, exam_id, study_instance_uid, username)
            reconciliation.resolve(conn, study_instance_uid, exam_id, username)
        self.bus.publish(EXAM_CHANGED, {"exam_id": exam_id, "what": "images"})
        return self.exam(exam_id)

    def _require_study(self, study_uid: str) -> None:
        if self.archive is None or not self.archive.count("STUDY", {"StudyInstanceUID": study_uid}):
            raise NotFound(f"影像不存在 / no stored study {study_uid}")

    def _target_study(self, exam: Exam) -> str:
        with db.read(self.engine) as conn:
            linked = reconciliation.studies_of(conn, exam.id)
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
            raise RisError("请选择要拆分的序列 / name the series to move")
        exam = self.exam(exam_id)
        patient = self.patient(exam.patient_id, exam.issuer)
        self._require_study(study_instance_uid)
        target = self._target_study(exam)
        if target == study_instance_uid:
            raise Conflict("这些序列已属于该检查 / the series belong to that exam already")
        self._correct(
            {"StudyInstanceUID": study_instance_uid, "SeriesInstanceUID": series_instance_uids},
            self._identity(patient)
            | {
                "StudyInstanceUID": target,
                "AccessionNumber": exam.accession_number,
                "RequestedProcedureID": exam.requested_procedure_id,
            },
            reason=reason or f"series split off to exam {exam.accession_number}",
            username=username,
        )
        with self._write() as conn:
            reconciliation.link(conn, exam_id, target, username)
        self.bus.publish(EXAM_CHANGED, {"exam_id": exam_id, "what": "images"})
        return self.exam(exam_id)

    def merge_studies(
        self, from_study_uid: str, into_exam_id: int, *, username: str, reason: str = ""
    ) -> Exam:
        """Move a whole study into the exam's study (one exam acquired as two studies)."""
        exam = self.exam(into_exam_id)
        patient = self.patient(exam.patient_id, exam.issuer)
        self._require_study(from_study_uid)
        target = self._target_study(exam)
        if target == from_study_uid:
            raise Conflict("不能将影像合并到其自身 / a study cannot be merged into itself")
        self._correct(
            {"StudyInstanceUID": from_study_uid},
            self._identity(patient)
            | {
                "StudyInstanceUID": target,
                "AccessionNumber": exam.accession_number,
                "RequestedProcedureID": exam.requested_procedure_id,
            },
            reason=reason or f"study merged into exam {exam.accession_number}",
            username=username,
        )
        with self._write() as conn:
            reconciliation.unlink(conn, from_study_uid)
            reconciliation.link(conn, into_exam_id, target, username)
            reconciliation.resolve(conn, from_study_uid, into_exam_id, username)
        self.bus.publish(EXAM_CHANGED, {"exam_id": into_exam_id, "what": "images"})
        return self.exam(into_exam_id)


def _requisition(row: Any) -> Requisition:
    return Requisition(
        row.id,
        row.exam_fk,
        row.filename,
        row.content_type,
        row.size,
        row.sha256,
        row.uploaded_by,
        records.aware(row.uploaded_at),  # type: ignore[arg-type]
    )


def _write_durably(target: Path, data: bytes) -> None:
    """Temporary name, fsync, rename, folder fsync: the file is whole on disk or absent."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.part")
    with open(temporary, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, target)
    folder = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
