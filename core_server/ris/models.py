"""What the RIS takes in and gives out: plain frozen dataclasses, no database types.

Inputs (``PatientIn``, ``VisitIn``, ``OrderIn``, ``ProcedureRequest``) are what a registration
form, the HL7 adapter (ADT/ORM/OMI) or the REST API of a HIS hand over; outputs (``Patient``,
``Visit``, ``Order``, ``Exam``...) are what they read back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import StrEnum
from functools import cached_property
from typing import Any

from core_server import clock
from core_server.names import PersonName
from core_server.pinyin import to_pinyin
from core_server.refusals import Refusal
from core_server.ris import person


class RisError(Refusal, ValueError):
    """A refusal said for the user (registrar, technician, HIS): a catalogue code (texts in
    ``web/ris/messages.json``) with its values. Still a ``ValueError`` for older callers."""

    status = 400


class NotFound(RisError):
    """The named patient, visit, order, exam... does not exist."""

    status = 404


class Conflict(RisError):
    """The request contradicts what is recorded (a duplicate number, a started exam...)."""

    status = 409


class IllegalTransition(Conflict):
    """An exam status change the status machine does not allow."""


class ExamStatus(StrEnum):
    SCHEDULED = "scheduled"
    ARRIVED = "arrived"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    REPORTED = "reported"
    VERIFIED = "verified"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


class Priority(StrEnum):
    """DICOM Requested Procedure / Scheduled Procedure Step priority values."""

    STAT = "STAT"
    HIGH = "HIGH"
    ROUTINE = "ROUTINE"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


class RetakeKind(StrEnum):
    ADDITIONAL = "additional"  # 加拍: more views of the same exam
    SUPPLEMENTARY = "supplementary"  # 补拍: views that were missed
    REPEAT = "repeat"  # 重拍: the images were not usable


class PatientClass(StrEnum):
    OUTPATIENT = "outpatient"  # 门诊 (HL7 PV1-2 O)
    INPATIENT = "inpatient"  # 住院 (I)
    EMERGENCY = "emergency"  # 急诊 (E)
    PHYSICAL_EXAM = "physical_exam"  # 体检 (P, preadmit/health check)


# The event published on the EventBus for every exam status change; its payload is
# :meth:`StatusChange.as_event`.
EXAM_STATUS_CHANGED = "ris.exam_status_changed"


class _Dict:
    def as_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))  # type: ignore[call-overload]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return clock.iso(value)  # with the hospital's offset: +08:00
    if isinstance(value, date):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class PatientIn(_Dict):
    """A patient as registered by hand or by the HIS (HL7 PID).

    ``name`` is the name as received: HL7 components (``王^建国``), a DICOM Person Name
    (``WANG^JIANGUO=王^建国``) or typed (``王建国``, ``买买提·艾力``, ``John Smith``);
    ``name_pinyin`` (``WANG^JIANGUO``, or ``WANG JIANGUO`` as a registrar types it) is computed
    with the surname tables when empty (see :mod:`core_server.ris.person`).
    ``patient_id`` with ``issuer`` (HL7 PID-3 with its assigning authority) identifies the
    patient; ``id_card_number`` is the 18-digit resident ID card number (GB 11643, checked)."""

    patient_id: str
    name: str
    issuer: str = ""
    name_pinyin: str = ""
    id_card_number: str = ""
    birth_date: date | None = None
    sex: str = ""  # DICOM: M, F, O or empty
    phone: str = ""
    address: str = ""


@dataclass(frozen=True)
class Patient(_Dict):
    id: int
    patient_id: str
    issuer: str
    name: str
    name_pinyin: str
    id_card_number: str
    birth_date: date | None
    sex: str
    phone: str
    address: str
    merged_into: str | None  # the surviving patient's ID once merged away (A40)
    created_at: datetime
    updated_at: datetime

    @property
    def person_name(self) -> PersonName:
        return person.person(self.name, self.name_pinyin)

    @property
    def display_name(self) -> str:
        """The name as a person reads it: 王建国 (never a ``^``)."""
        return self.person_name.display()

    @property
    def dicom_name(self) -> str:
        """The DICOM Person Name: ``ZHANG^SAN=张^三`` (alphabetic=ideographic)."""
        return self.person_name.dicom()

    def as_dict(self) -> dict[str, Any]:
        """The stored components (``name``, ``name_pinyin``) with the forms readers want."""
        return super().as_dict() | person.forms(self.person_name)


@dataclass(frozen=True)
class VisitIn(_Dict):
    """A visit (HL7 PV1): an outpatient attendance or an inpatient stay."""

    visit_number: str
    patient_class: str = PatientClass.OUTPATIENT
    department: str = ""
    ward: str = ""
    bed: str = ""
    attending_doctor: str = ""
    admitted_at: datetime | None = None


@dataclass(frozen=True)
class Visit(_Dict):
    id: int
    visit_number: str
    patient_id: str
    issuer: str
    patient_class: str
    department: str
    ward: str
    bed: str
    attending_doctor: str
    status: str  # active, discharged, cancelled
    admitted_at: datetime | None
    discharged_at: datetime | None


@dataclass(frozen=True)
class ProcedureRequest(_Dict):
    """One requested procedure of an order (HL7 OBR): an exam item of the catalogue.

    Empty fields are filled from the catalogue (modality, body part, department) or
    generated (accession number, requested procedure ID)."""

    procedure_code: str
    accession_number: str = ""
    requested_procedure_id: str = ""
    modality: str = ""
    body_part: str = ""
    department: str = ""
    room: str = ""
    station_ae: str = ""
    scheduled_at: datetime | None = None
    notes: str = ""
    # The order placer's Study Instance UID (HL7 IPC-3 or ZDS-1, IHE SWF): the images are made
    # under it, so the HIS and its other systems know the study before it exists. Generated
    # when empty; checked as a UID and unique.
    study_instance_uid: str = ""


@dataclass(frozen=True)
class OrderIn(_Dict):
    """An imaging order (HL7 ORC/OBR, ORM^O01 or OMI^O23, or the REST API).

    ``placer_order_number`` is the HIS's number (ORC-2), unique per ``placer_application``;
    ``filler_order_number`` (ORC-3) is ours, generated when empty."""

    placer_order_number: str
    procedures: tuple[ProcedureRequest, ...]
    placer_application: str = ""
    filler_order_number: str = ""
    visit_number: str = ""
    referring_physician: str = ""
    referring_department: str = ""
    clinical_info: str = ""  # diagnosis / reason for the exam
    priority: str = Priority.ROUTINE
    emergency: bool = False  # 急诊 / 绿色通道 (green channel): goes first everywhere
    bedside: bool = False  # 床旁: the modality goes to the patient


@dataclass(frozen=True)
class StatusChange(_Dict):
    """One step of an exam's life: who moved it from which status to which, when, why."""

    exam_id: int
    accession_number: str
    old_status: str | None
    new_status: str
    username: str
    at: datetime
    reason: str = ""
    # Increasing with the commit order of the changes (ris_exam_history.id): a reader's cursor.
    change_id: int = 0

    def as_event(self) -> dict[str, Any]:
        return self.as_dict()


@dataclass(frozen=True)
class Exam(_Dict):
    """A requested procedure with its one scheduled step and what was performed: the unit a
    registrar books, a technician performs, a doctor reports and the worklist lists."""

    id: int
    accession_number: str
    requested_procedure_id: str
    scheduled_step_id: str
    study_instance_uid: str
    order_id: int
    placer_order_number: str
    filler_order_number: str
    patient_id: str
    issuer: str
    patient_name: str
    patient_name_pinyin: str
    procedure_code: str
    procedure_name: str
    modality: str
    body_part: str
    department: str
    room: str
    station_ae: str
    scheduled_at: datetime | None
    priority: str
    emergency: bool
    bedside: bool
    status: str
    status_at: datetime
    status_by: str
    identity_confirmed: bool
    requisition_confirmed: bool
    fee_confirmed: bool
    retake_of: int | None
    retake_kind: str
    images: int  # instances stored for this exam
    created_at: datetime
    studies: tuple[str, ...] = ()  # Study Instance UIDs of its stored images
    room_name: str = ""  # the room's name in the catalogue (CT一室), for labels and lists
    fee_fen: int = 0  # what the exam is charged, in fen (its item's price unless changed)

    @property
    def patient_person_name(self) -> PersonName:
        return person.person(self.patient_name, self.patient_name_pinyin)

    @property
    def patient_display_name(self) -> str:
        return self.patient_person_name.display()

    def as_dict(self) -> dict[str, Any]:
        forms = person.forms(self.patient_person_name)
        return super().as_dict() | {f"patient_{k}": v for k, v in forms.items()}


@dataclass(frozen=True)
class Order(_Dict):
    id: int
    placer_order_number: str
    placer_application: str
    filler_order_number: str
    patient_id: str
    issuer: str
    visit_number: str
    referring_physician: str
    referring_department: str
    clinical_info: str
    priority: str
    emergency: bool
    bedside: bool
    status: str  # active, cancelled
    exams: tuple[Exam, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return super().as_dict() | {"exams": [e.as_dict() for e in self.exams]}


@dataclass(frozen=True)
class Department(_Dict):
    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class Procedure(_Dict):
    """An exam item of the catalogue (检查项目), with its modality and body part."""

    code: str
    name_zh: str
    name_en: str
    modality: str
    body_part: str  # DICOM Body Part Examined (CHEST, HEAD, ABDOMEN...)
    department: str
    duration_minutes: int = 15
    active: bool = True
    price_fen: int = 0  # the price in fen (分, 1/100 yuan)


@dataclass(frozen=True)
class Room(_Dict):
    """An exam room with its modality and the AE of its device; appointment slots are cut
    from its opening hours."""

    code: str
    name: str
    modality: str
    department: str
    station_ae: str = ""
    slot_minutes: int = 15
    slot_capacity: int = 1
    opens: str = "08:00"
    closes: str = "17:00"


@dataclass(frozen=True)
class Slot(_Dict):
    room: str
    start: datetime
    end: datetime
    capacity: int
    booked: int

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.booked)


@dataclass(frozen=True)
class Appointment(_Dict):
    exam_id: int
    room: str
    start: datetime
    booked_by: str
    booked_at: datetime


@dataclass(frozen=True)
class Requisition(_Dict):
    """A scanned or photographed paper request form attached to an exam."""

    id: int
    exam_id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime


@dataclass(frozen=True)
class UnmatchedStudy(_Dict):
    """A study whose images matched no exam: waits on the reconciliation list."""

    id: int
    study_instance_uid: str
    patient_id: str
    patient_name: str
    accession_number: str
    modality: str
    study_date: str
    station_ae: str
    instances: int
    first_seen: datetime
    resolved_at: datetime | None
    resolved_by: str
    exam_id: int | None

    @property
    def display_name(self) -> str:
        """The name the images carry, as a person reads it (``WANG^JIANGUO=王^建国`` ->
        王建国)."""
        return person.person(self.patient_name).display()

    def as_dict(self) -> dict[str, Any]:
        return super().as_dict() | {"patient_display_name": self.display_name}


@dataclass(frozen=True)
class WorklistItem(_Dict):
    """One scheduled procedure step as the Modality Worklist answers it (attribute keywords
    of the MWL information model)."""

    attributes: dict[str, Any]
    english: str = ""  # the exam item's English name, for the ASCII copy
    # Makes the exam record when a reader asks for it: a worklist query answers from the
    # attributes alone (building 90 exam records cost a tenth of a day's MWL query).
    make_exam: Callable[[], Exam] | None = field(default=None, repr=False, compare=False)

    @cached_property
    def exam(self) -> Exam:
        if self.make_exam is None:
            raise LookupError("a worklist item made without its exam")
        return self.make_exam()

    def as_dict(self) -> dict[str, Any]:
        return _jsonable({"attributes": self.attributes, "english": self.english})

    @cached_property
    def ascii_attributes(self) -> dict[str, Any]:
        """The same for a modality that shows only ASCII: the pinyin name alone, the exam
        item's English name, other Chinese text in pinyin. Made on first use (a worklist
        query of other modalities never needs it)."""
        return _ascii(self.attributes, self.english)


_DESCRIPTIONS = {
    "RequestedProcedureDescription",
    "ScheduledProcedureStepDescription",
    "CodeMeaning",
}


def _ascii(value: Any, english: str) -> Any:
    """A copy for ASCII-only devices: names keep their alphabetic group, the exam item's
    name becomes English, any other Chinese text its pinyin."""
    if isinstance(value, dict):
        return {
            k: (
                str(v).split("=")[0]
                if k.endswith("Name") and isinstance(v, str)
                else english
                if k in _DESCRIPTIONS and english
                else _ascii(v, english)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_ascii(v, english) for v in value]
    if isinstance(value, str) and not value.isascii():
        return to_pinyin(value).replace("^", " ")[:64]
    return value


@dataclass(frozen=True)
class PerformedStep(_Dict):
    """A Modality Performed Procedure Step (N-CREATE / N-SET)."""

    sop_instance_uid: str
    exam_id: int | None
    status: str  # IN PROGRESS, COMPLETED, DISCONTINUED
    station_ae: str
    started_at: datetime | None
    ended_at: datetime | None
