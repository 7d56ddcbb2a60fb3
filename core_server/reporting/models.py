"""What the reporting domain hands out: reports, versions, templates, alerts; its errors and the
names of the events it publishes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from core_server import clock, i18n
from core_server.refusals import Refusal

# Events on the bus (payloads are plain dicts, published after the commit).
REPORT_SUBMITTED = "reporting.report_submitted"  # report_id, exam_id, accession, version
REPORT_SIGNED = "reporting.report_signed"  # ... + final (first signature) / corrected (amended)
REPORT_REJECTED = "reporting.report_rejected"
REPORT_REOPENED = "reporting.report_reopened"  # a signed report is being amended
CRITICAL_VALUE_RAISED = "reporting.critical_value_raised"  # alert_id, report_id, exam_id...
CRITICAL_VALUE_ESCALATED = "reporting.critical_value_escalated"  # ... + level
CRITICAL_VALUE_ACKNOWLEDGED = "reporting.critical_value_acknowledged"


class ReportingError(Refusal):
    """A refusal of the reporting domain: a catalogue code (texts in
    ``web/reporting/messages.json``) and its values; 400 unless a subclass says otherwise.
    A ``status`` value (a report status) is shown by its label in the caller's language."""

    status = 400

    def shown_values(self, lang: str) -> dict[str, object]:
        values = super().shown_values(lang)
        if "status" in values:
            values["status"] = i18n.label(
                lang, f"reporting.status.{values['status']}", str(values["status"])
            )
        return values


class NotFound(ReportingError):
    status = 404


class Conflict(ReportingError):
    """The report's state forbids the action (wrong status, stale version)."""

    status = 409


class Locked(Conflict):
    """Someone else holds the report's editing lock: ``holder`` and ``expires_at`` travel
    with the refusal (the editor names the doctor); the text says until when, in the
    hospital's time."""

    def __init__(self, holder: str, expires_at: datetime | None) -> None:
        super().__init__(
            "reporting.lock.held",
            holder=holder,
            until=clock.shown(expires_at, "%H:%M"),
            expires_at=clock.iso(expires_at),
        )
        self.holder = holder
        self.expires_at = expires_at


class Forbidden(ReportingError):
    """The user's grade or role may not take this step."""

    status = 403


class WordCheckFailed(ReportingError):
    """Forbidden or mutually exclusive words found before signing: ``problems`` lists them."""

    status = 422

    def __init__(self, problems: list[dict[str, str]]) -> None:
        words = "; ".join(p["message"] or p["word"] for p in problems)
        super().__init__("reporting.words.failed", words=words, problems=problems)
        self.problems = problems


class ReportStatus(StrEnum):
    DRAFT = "draft"  # being written (also after a rejection, and while amending)
    SUBMITTED = "submitted"  # written, waiting for the first review
    REVIEWED = "reviewed"  # three-level only: reviewed by an attending, waiting for the chief
    SIGNED = "signed"  # final (or corrected, after an amendment)


class Grade(StrEnum):
    """A doctor's sign-off level: 住院医师, 主治医师, 主任医师."""

    RESIDENT = "resident"
    ATTENDING = "attending"
    CHIEF = "chief"


GRADE_RANK = {Grade.RESIDENT: 1, Grade.ATTENDING: 2, Grade.CHIEF: 3}

QUALITY_GRADES = ("excellent", "good", "fair", "poor")
AGREEMENT = ("agree", "partly", "disagree")
FIELD_TYPES = ("text", "choice", "number", "date")
TEMPLATE_SCOPES = ("system", "department", "private")


class _Dict:
    def as_dict(self) -> dict[str, Any]:
        """The fields as JSON values; times with the hospital's offset (nested ones too)."""
        return dict(_shown(asdict(self)))  # type: ignore[call-overload]


def _shown(value: Any) -> Any:
    if isinstance(value, datetime):
        return clock.iso(value)
    if isinstance(value, dict):
        return {k: _shown(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_shown(v) for v in value]
    return value


@dataclass(frozen=True)
class KeyImage(_Dict):
    study_uid: str
    series_uid: str
    sop_instance_uid: str
    frame: int = 1
    note: str = ""


@dataclass(frozen=True)
class Report(_Dict):
    id: int
    exam_id: int
    accession_number: str
    patient_id: str
    issuer: str
    patient_name: str
    department: str
    modality: str
    body_part: str
    procedure_code: str
    emergency: bool
    status: str
    version: int  # the newest kept version's number (0 before the first save)
    findings: str  # sanitised HTML
    impression: str
    fields: dict[str, Any]  # structured template answers: field id -> value
    template_id: int | None
    positive: bool | None
    critical: bool
    infectious: bool
    teaching: bool
    teaching_note: str
    key_images: list[dict[str, Any]]
    author: str
    reviewed_by: str
    signed_by: str
    signed_at: datetime | None
    signed_version: int | None
    amendments: int  # how many times it was amended after a signature
    report_quality: str
    report_quality_by: str
    image_quality: str
    image_quality_by: str
    pathology_result: str
    clinical_outcome: str
    pathology_agreement: str
    agreement_by: str
    lock_holder: str
    lock_expires_at: datetime | None
    levels: int  # sign-off levels this report needs (1 for emergencies signed at once)
    created_at: datetime
    updated_at: datetime
    draft_saved_at: datetime | None
    # A signed report reopened for correction (the signed version still stands meanwhile).
    amending: bool = False
    patient_display_name: str = ""  # the name as a person reads it (王建国, never a ^)


@dataclass(frozen=True)
class Version(_Dict):
    report_id: int
    number: int
    action: str  # save, submit, review, sign, reject, amend
    username: str
    status: str  # the report's status after this version
    findings: str
    impression: str
    fields: dict[str, Any]
    created_at: datetime
    reason: str = ""


@dataclass(frozen=True)
class HistoryEntry(_Dict):
    action: str
    username: str
    at: datetime
    old_status: str
    new_status: str
    version: int
    reason: str


@dataclass(frozen=True)
class TemplateField(_Dict):
    """One typed field of a structured template (after IHE MRRT's template attributes)."""

    id: str
    label: str
    type: str  # text, choice, number, date
    choices: tuple[str, ...] = ()
    unit: str = ""
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class Template(_Dict):
    id: int
    name: str
    scope: str  # system, department, private
    owner: str  # the doctor of a private template
    department: str
    modality: str
    body_part: str
    keywords: str
    findings: str
    impression: str
    fields: tuple[TemplateField, ...] = field(default=())
    active: bool = True


@dataclass(frozen=True)
class WordRule(_Dict):
    id: int
    kind: str  # forbidden, exclusive
    word: str
    other: str  # the word it must not appear with (exclusive)
    message: str
    modality: str  # "" for every modality


@dataclass(frozen=True)
class AlertEvent(_Dict):
    kind: str  # raised, queued, delivered, failed, escalated, acknowledged
    at: datetime
    username: str
    detail: str
    ref: str  # e.g. the outbound HL7 job id


@dataclass(frozen=True)
class ResultEvent(_Dict):
    """A submission or signature read from the workflow history by an outbox reader
    (:meth:`Reporting.result_events`): ``event_id`` orders them and is its cursor."""

    event_id: int
    report_id: int
    action: str  # submit, sign
    version: int
    username: str
    amended: bool  # the report had been reopened for an amendment before this step


@dataclass(frozen=True)
class AlertNotice(_Dict):
    """A critical value to be told (raised or escalated), read by cursor
    (:meth:`Reporting.alert_notices`)."""

    event_id: int
    alert_id: int
    kind: str  # raised, escalated
    level: int  # the escalation level this notice announces (0 when raised)


@dataclass(frozen=True)
class CriticalAlert(_Dict):
    id: int
    report_id: int
    exam_id: int
    accession_number: str
    patient_id: str
    patient_name: str
    department: str
    description: str
    raised_by: str
    raised_at: datetime
    status: str  # open, acknowledged
    escalation_level: int
    acknowledged_by: str
    acknowledged_at: datetime | None
    acknowledgement: str  # what the clinician wrote (e.g. action taken)
    chain: tuple[AlertEvent, ...] = ()
    # The name as a person reads it; name and display name are the RIS's now (live).
    patient_display_name: str = ""


@dataclass(frozen=True)
class WorklistRow(_Dict):
    exam_id: int
    accession_number: str
    patient_id: str
    issuer: str
    patient_name: str
    patient_display_name: str
    patient_name_pinyin: str
    sex: str
    age: int | None
    modality: str
    body_part: str
    procedure_name: str
    department: str
    exam_status: str
    exam_at: datetime | None
    emergency: bool
    report_id: int | None
    report_status: str  # "" before a report exists
    author: str
    critical: bool
    infectious: bool
    positive: bool | None
    priors: int
    images: int
    locked_by: str
    waiting_for_retake: str = ""  # the retake's accession number while the report waits


@dataclass(frozen=True)
class WorklistPage:
    """A page of the worklist, and how many rows all its pages hold."""

    rows: list[WorklistRow]
    total: int
