"""The reporting worklist (performed exams with their report's state, the work waiting longest
first, emergencies and critical values ahead) and a patient's priors (other exams with their
signed reports). Exams and patients come from the RIS through its public functions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from core_server import clock, db, names
from core_server.reporting import records
from core_server.reporting.base import REPORTABLE, Doctor, ServiceBase
from core_server.reporting.editing import locked_by_other
from core_server.reporting.models import (
    Report,
    ReportingError,
    ReportStatus,
    WorklistPage,
    WorklistRow,
)
from core_server.reporting.tables import reporting_reports
from core_server.ris import NotFound as RisNotFound

S = ReportStatus
MAX_WORKLIST_DAYS = 62
MAX_EXAMS = 5000  # read from the RIS for one worklist, however many days
AgeRange = tuple[str, int | None, int | None]


@dataclass(frozen=True)
class WorklistFilter:
    """What the doctor chose (see :meth:`Worklist.worklist`)."""

    status: str = ""
    mine: bool = False
    critical: bool | None = None
    ages: AgeRange | None = None


@dataclass
class _Patients:
    """The RIS's patients, read once each (age and sex of the rows shown)."""

    ris: Any
    found: dict[tuple[str, str], Any] = field(default_factory=dict)

    def of(self, exam: Any) -> Any:
        key = (exam.patient_id, exam.issuer)
        if key not in self.found:
            try:
                self.found[key] = self.ris.patient(*key)
            except RisNotFound:
                self.found[key] = None
        return self.found[key]


class Worklist(ServiceBase):
    def priors(self, report_or_exam: Report | int) -> list[dict[str, Any]]:
        """The patient's other exams, newest first, each with its report (if any)."""
        exam = self.ris.exam(
            report_or_exam.exam_id if isinstance(report_or_exam, Report) else report_or_exam
        )
        others = [
            e
            for e in self.ris.exams(patient_id=exam.patient_id, limit=500)
            if e.issuer == exam.issuer and e.id != exam.id
        ]
        others.sort(key=lambda e: clock.utc(exam_at(e)), reverse=True)
        with db.read(self.engine) as conn:
            reports = _reports_of(conn, others)
        return [_prior(e, reports.get(e.id)) for e in others]

    def worklist(
        self,
        doctor: Doctor,
        *,
        date_from: date | None = None,
        date_to: date | None = None,
        modality: str = "",
        body_part: str = "",
        status: str = "",
        mine: bool = False,
        id_suffix: str = "",
        age: str = "",
        text_search: str = "",
        critical: bool | None = None,
        limit: int = 200,
        offset: int = 0,
    ) -> WorklistPage:
        """The reporting worklist: performed exams of the chosen days (default the last 7, in
        the hospital's calendar) with their report's state, ``limit`` rows from ``offset`` and
        the count of them all. ``status``: ``unreported`` (no report or an empty draft), or a
        report status. ``age``: ``y,20,30`` (years), ``m,0,6`` (months), ``d,0,28`` (days),
        either bound may be empty. ``text_search``: name prefix, pinyin, pinyin initials,
        patient ID or accession number (the RIS's search). ``id_suffix``: last digits of the
        patient ID (doctors share the work by them)."""
        first, last = _days(date_from, date_to)
        chosen = WorklistFilter(status, mine, critical, age_range(age))
        exams = self._performed(first, last, modality, text_search)
        if body_part:
            exams = [e for e in exams if e.body_part == body_part.upper()]
        if id_suffix:
            exams = [e for e in exams if e.patient_id.endswith(id_suffix)]
        with db.read(self.engine) as conn:
            reports = _reports_of(conn, exams)
            priors = _signed_counts(conn, exams)
        patients = _Patients(self.ris)
        kept = [
            (e, reports.get(e.id))
            for e in exams
            if _wanted(e, reports.get(e.id), chosen, doctor, patients)
        ]
        kept.sort(key=_order)
        # The patient (age, sex) is read only for the rows returned: one RIS read each.
        page = kept[offset : offset + limit]
        waiting = self.waiting_for_retake([e.id for e, _ in page])
        return WorklistPage(
            [_row(e, report, patients.of(e), priors, waiting.get(e.id, "")) for e, report in page],
            total=len(kept),
        )

    def _performed(self, first: date, last: date, modality: str, search: str) -> list[Any]:
        """The performed exams of the days from ``last`` back to ``first`` (the RIS's day)."""
        exams: list[Any] = []
        day = last
        while day >= first and len(exams) < MAX_EXAMS:
            exams += self.ris.exams(
                day=day, modality=modality, status=list(REPORTABLE), text=search, limit=1000
            )
            day -= timedelta(days=1)
        return exams


def exam_at(exam: Any) -> datetime:
    """When the exam was (to be) done: its appointment, else when it was ordered."""
    return exam.scheduled_at or exam.created_at  # type: ignore[no-any-return]


def _days(date_from: date | None, date_to: date | None) -> tuple[date, date]:
    last = date_to or clock.today()
    first = date_from or (last - timedelta(days=6))
    if first > last:
        raise ReportingError("reporting.worklist.dates_reversed")
    if (last - first).days >= MAX_WORKLIST_DAYS:
        raise ReportingError("reporting.worklist.too_many_days", days=MAX_WORKLIST_DAYS)
    return first, last


def _reports_of(conn: Connection, exams: list[Any]) -> dict[int, Report]:
    rows = conn.execute(
        select(reporting_reports).where(reporting_reports.c.exam_id.in_([e.id for e in exams]))
    )
    return {r.exam_id: records.report(r) for r in rows}


def _signed_counts(conn: Connection, exams: list[Any]) -> dict[tuple[str, str], int]:
    """Signed reports per patient (ID, issuer): the worklist's prior count."""
    if not exams:
        return {}
    r = reporting_reports.c
    counted = conn.execute(
        select(r.patient_id, r.issuer, func.count())
        .where(r.patient_id.in_({e.patient_id for e in exams}), r.signed_version.is_not(None))
        .group_by(r.patient_id, r.issuer)
    )
    return {(p, i): int(n) for p, i, n in counted}


def _wanted(
    exam: Any, report: Report | None, chosen: WorklistFilter, doctor: Doctor, patients: _Patients
) -> bool:
    report_status = report.status if report else ""
    if chosen.status == "unreported":
        if report is not None and (report.version or report.status != S.DRAFT):
            return False
    elif chosen.status and report_status != chosen.status:
        return False
    if chosen.mine and (
        report is None
        or doctor.username
        not in (report.author, report.reviewed_by, report.signed_by, report.lock_holder)
    ):
        return False
    if chosen.critical is not None and bool(report and report.critical) != chosen.critical:
        return False
    if chosen.ages is not None:
        patient = patients.of(exam)
        on = clock.local(exam_at(exam)).date()
        if age_in(patient.birth_date if patient else None, on, chosen.ages) is None:
            return False
    return True


def _order(pair: tuple[Any, Report | None]) -> tuple[bool, bool, datetime]:
    exam, report = pair
    return (
        not exam.emergency,
        not (report is not None and report.critical),
        clock.utc(exam_at(exam)),  # oldest first: the work waiting longest
    )


def _row(
    e: Any,
    report: Report | None,
    patient: Any,
    priors: dict[tuple[str, str], int],
    waiting_for_retake: str = "",
) -> WorklistRow:
    at = exam_at(e)
    has_own = 1 if report is not None and report.signed_version else 0
    locked = report is not None and locked_by_other(report.lock_holder, report.lock_expires_at, "")
    return WorklistRow(
        exam_id=e.id,
        accession_number=e.accession_number,
        patient_id=e.patient_id,
        issuer=e.issuer,
        patient_name=e.patient_name,
        patient_display_name=names.display(e.patient_name),
        patient_name_pinyin=e.patient_name_pinyin,
        sex=patient.sex if patient else "",
        age=years(patient.birth_date if patient else None, clock.local(at).date()),
        modality=e.modality,
        body_part=e.body_part,
        procedure_name=e.procedure_name,
        department=e.department,
        exam_status=e.status,
        exam_at=at,
        emergency=e.emergency,
        report_id=report.id if report else None,
        report_status=report.status if report else "",
        author=report.author if report else "",
        critical=bool(report and report.critical),
        infectious=bool(report and report.infectious),
        positive=report.positive if report else None,
        priors=priors.get((e.patient_id, e.issuer), 0) - has_own,
        images=e.images,
        locked_by=report.lock_holder if report and locked else "",
        waiting_for_retake=waiting_for_retake,
    )


def _prior(e: Any, report: Report | None) -> dict[str, Any]:
    signed = None
    # Only signed text is shown as a prior; drafts are not results.
    if report is not None and report.signed_version:
        signed = {
            "id": report.id,
            "status": report.status,
            "findings": report.findings,
            "impression": report.impression,
            "signed_by": report.signed_by,
            "signed_at": clock.iso(report.signed_at),
            "positive": report.positive,
        }
    return {
        "exam_id": e.id,
        "accession_number": e.accession_number,
        "procedure_name": e.procedure_name,
        "modality": e.modality,
        "body_part": e.body_part,
        "exam_at": clock.iso(exam_at(e)),
        "exam_status": e.status,
        "studies": list(e.studies),
        "report": signed,
    }


def age_range(spec: str) -> AgeRange | None:
    """``y,20,30`` -> ("y", 20, 30); unit y (years), m (months) or d (days)."""
    if not spec:
        return None
    parts = [p.strip() for p in spec.split(",")]
    if len(parts) != 3 or parts[0].lower() not in ("y", "m", "d"):
        raise ReportingError("reporting.worklist.age_format")
    try:
        low = int(parts[1]) if parts[1] else None
        high = int(parts[2]) if parts[2] else None
    except ValueError:
        raise ReportingError("reporting.worklist.age_numbers") from None
    return parts[0].lower(), low, high


def years(birth: date | None, on: date) -> int | None:
    if birth is None:
        return None
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def age_in(birth: date | None, on: date, spec: AgeRange | None) -> int | None:
    """The age in the spec's unit when it is within the range (None when outside or unknown)."""
    if spec is None or birth is None:
        return None
    unit, low, high = spec
    if unit == "y":
        value = years(birth, on)
    elif unit == "m":
        value = (on.year - birth.year) * 12 + on.month - birth.month - (on.day < birth.day)
    else:
        value = (on - birth).days
    assert value is not None
    if (low is not None and value < low) or (high is not None and value > high):
        return None
    return value
