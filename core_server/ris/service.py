"""The RIS's public face: what adapters (web, HL7, DICOM MWL/MPPS) and the queue service call.

Every method is one transaction; every exam status change is recorded with who and when and
published on the bus as :data:`~core_server.ris.models.EXAM_STATUS_CHANGED` after the commit.
``username`` is the person or system acting (``hl7:HIS``, ``mpps:CT01``...), kept in the history.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from core_server.archive import Archive
from core_server.events import EventBus
from core_server.ris.models import (
    Appointment,
    Department,
    Exam,
    Order,
    OrderIn,
    Patient,
    PatientIn,
    PerformedStep,
    Procedure,
    Requisition,
    Room,
    Slot,
    StatusChange,
    UnmatchedStudy,
    Visit,
    VisitIn,
    WorklistItem,
)


class Ris:
    def __init__(self, engine: Engine, bus: EventBus, archive: Archive | None = None) -> None:
        self.engine = engine
        self.bus = bus
        self.archive = archive

    # -- patients (HL7 ADT A01/A04/A08/A40, registration form) -------------------------------

    def register_patient(self, patient: PatientIn, *, username: str) -> Patient:
        """Create the patient, or update it when ``patient_id``/``issuer`` is known (A01/A04
        on a known patient is an update). The pinyin name is computed when not given."""
        raise NotImplementedError

    def update_patient(
        self, patient_id: str, issuer: str, patient: PatientIn, *, username: str
    ) -> Patient:
        """Change a patient's demographics (A08). The change reaches the worklist at once and
        the stored images through ``Archive.correct`` (IHE PIR)."""
        raise NotImplementedError

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
        raise NotImplementedError

    def patient(self, patient_id: str, issuer: str = "") -> Patient:
        """The patient with this ID (and issuer); :class:`NotFound` otherwise."""
        raise NotImplementedError

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
        ``text`` searches ID, card number, name and pinyin initials at once."""
        raise NotImplementedError

    # -- visits (A01/A04 PV1, A03, A11, A13) --------------------------------------------------

    def create_visit(self, patient_id: str, issuer: str, visit: VisitIn, *, username: str) -> Visit:
        """Record a visit (or update it when its number is known)."""
        raise NotImplementedError

    def cancel_visit(self, visit_number: str, *, username: str, reason: str = "") -> Visit:
        """Cancel an admission/registration (A11): its exams not yet started are cancelled."""
        raise NotImplementedError

    def discharge_visit(self, visit_number: str, *, username: str) -> Visit:
        """End a visit (A03)."""
        raise NotImplementedError

    def cancel_discharge(self, visit_number: str, *, username: str) -> Visit:
        """Undo a discharge (A13): the visit is active again."""
        raise NotImplementedError

    # -- orders (ORM^O01 / OMI^O23 NW, CA, XO; REST) -----------------------------------------

    def place_order(self, patient_id: str, issuer: str, order: OrderIn, *, username: str) -> Order:
        """A new order with one exam per requested procedure (status scheduled). Accession
        numbers, requested procedure IDs, the filler order number and the Study Instance UID
        are generated when not given; the same placer order number again is :class:`Conflict`."""
        raise NotImplementedError

    def change_order(self, order: OrderIn, *, username: str) -> Order:
        """Change an order found by its placer number (XO): priority, flags, scheduled time,
        room and the procedures of exams not yet started."""
        raise NotImplementedError

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
        raise NotImplementedError

    def order(
        self,
        *,
        placer_order_number: str = "",
        placer_application: str = "",
        filler_order_number: str = "",
    ) -> Order:
        raise NotImplementedError

    # -- exams --------------------------------------------------------------------------------

    def exam(self, exam_id: int) -> Exam:
        raise NotImplementedError

    def exam_by_accession(self, accession_number: str) -> Exam:
        """Query exam status by accession number (HIS, queue check-in by barcode)."""
        raise NotImplementedError

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
        raise NotImplementedError

    def history(self, exam_id: int) -> list[StatusChange]:
        """Every status change of the exam, oldest first."""
        raise NotImplementedError

    def change_status(
        self, exam_id: int, new_status: str, *, username: str, reason: str = ""
    ) -> Exam:
        """Move an exam along the status machine (:mod:`core_server.ris.status`); an illegal
        step is :class:`IllegalTransition` with the allowed ones named."""
        raise NotImplementedError

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
        raise NotImplementedError

    def retake(
        self, exam_id: int, kind: str, *, username: str, procedure_code: str = "", reason: str = ""
    ) -> Exam:
        """加拍/补拍/重拍: a new exam (arrived, for the same patient and order) linked to the
        completed one, with its own accession number."""
        raise NotImplementedError

    def change_procedure(
        self, exam_id: int, procedure_code: str, *, username: str, reason: str = ""
    ) -> Exam:
        """Change the exam item of an exam not yet completed (modality and body part follow)."""
        raise NotImplementedError

    # -- catalogue ----------------------------------------------------------------------------

    def departments(self) -> list[Department]:
        raise NotImplementedError

    def procedures(self, *, modality: str = "", active_only: bool = True) -> list[Procedure]:
        raise NotImplementedError

    def save_procedure(self, procedure: Procedure, *, username: str) -> Procedure:
        raise NotImplementedError

    def rooms(self, *, modality: str = "") -> list[Room]:
        raise NotImplementedError

    def save_room(self, room: Room, *, username: str) -> Room:
        raise NotImplementedError

    # -- appointments -------------------------------------------------------------------------

    def slots(self, room: str, day: date) -> list[Slot]:
        """The room's slots of the day with how many are booked."""
        raise NotImplementedError

    def book(self, exam_id: int, room: str, start: datetime, *, username: str) -> Appointment:
        """Book the exam into a slot (moving any earlier booking); a full slot is Conflict."""
        raise NotImplementedError

    def check_in(self, exam_id: int, *, username: str) -> Exam:
        """Arrival at the desk or ticket printer: the exam becomes ``arrived``."""
        raise NotImplementedError

    # -- requisitions -------------------------------------------------------------------------

    def attach_requisition(
        self, exam_id: int, filename: str, content_type: str, data: bytes, *, username: str
    ) -> Requisition:
        """Store a scanned request form (PDF, JPEG, PNG) durably under the data dir."""
        raise NotImplementedError

    def requisitions(self, exam_id: int) -> list[Requisition]:
        raise NotImplementedError

    def requisition_file(self, requisition_id: int) -> tuple[Requisition, Path]:
        raise NotImplementedError

    # -- modality worklist and MPPS -----------------------------------------------------------

    def worklist(self, keys: Mapping[str, str]) -> Iterator[WorklistItem]:
        """Scheduled procedure steps matching MWL keys (ScheduledStationAETitle, Modality,
        ScheduledProcedureStepStartDate (ranges), PatientID, PatientName, AccessionNumber...)."""
        raise NotImplementedError

    def performed_step_created(
        self, sop_instance_uid: str, attributes: Mapping[str, Any], *, station_ae: str
    ) -> PerformedStep:
        """MPPS N-CREATE (IN PROGRESS): the referenced exam goes ``in_progress``."""
        raise NotImplementedError

    def performed_step_set(
        self, sop_instance_uid: str, attributes: Mapping[str, Any], *, station_ae: str
    ) -> PerformedStep:
        """MPPS N-SET: COMPLETED completes the exam; DISCONTINUED returns it to ``arrived``."""
        raise NotImplementedError

    # -- matching and reconciliation ----------------------------------------------------------

    def on_instance_stored(self, topic: str, payload: dict[str, Any]) -> None:
        """Subscriber of ``archive.instance_stored``: match the study to its exam by accession
        number, requested procedure ID or Study Instance UID, else list it as unmatched."""
        raise NotImplementedError

    def unmatched(self, *, include_resolved: bool = False) -> list[UnmatchedStudy]:
        raise NotImplementedError

    def link_study(
        self, study_instance_uid: str, exam_id: int, *, username: str, reason: str = ""
    ) -> Exam:
        """Reconcile: rewrite the study's patient/study attributes to the exam's (through
        ``Archive.correct``) and attach it to the exam."""
        raise NotImplementedError

    def split_study(
        self,
        study_instance_uid: str,
        series_instance_uids: list[str],
        exam_id: int,
        *,
        username: str,
        reason: str = "",
    ) -> Exam:
        """Move some series of a study to another exam (IHE PGP: images of two exams in one)."""
        raise NotImplementedError

    def merge_studies(
        self, from_study_uid: str, into_exam_id: int, *, username: str, reason: str = ""
    ) -> Exam:
        """Move a whole study into the exam's study (one exam acquired as two studies)."""
        raise NotImplementedError
