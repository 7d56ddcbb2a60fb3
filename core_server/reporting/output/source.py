"""What a report output is made of: one signed version of a report with the exam, order and
patient it belongs to, read from the reporting tables (same domain) and the RIS (its public
API: the patient's name and the order's requesting department and clinical diagnosis are the
RIS's now, not copies)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Engine, Table, and_, select

from core_server import db, names
from core_server.names import PersonName
from core_server.reporting import records
from core_server.reporting.models import NotFound, Report, Template, Version
from core_server.reporting.tables import (
    reporting_reports,
    reporting_templates,
    reporting_versions,
)
from core_server.ris import Exam, Order, Patient, Ris, RisError

SIGN_ACTION = "sign"
AMEND_ACTION = "amend"


@dataclass(frozen=True)
class SignedReport:
    """A report as it was signed: the signed version's text, not the working copy."""

    report: Report
    version: Version
    exam: Exam | None
    patient: Patient | None
    template: Template | None
    signed_numbers: tuple[int, ...] = ()  # every signed version of the report, oldest first
    order: Order | None = None  # the exam's order (requesting department, clinical diagnosis)
    departments: tuple[tuple[str, str], ...] = ()  # the RIS's department codes and names

    @property
    def amendment(self) -> int:
        """0 for the first signature, n for the n-th amendment."""
        earlier = [n for n in self.signed_numbers if n < self.version.number]
        return len(earlier)

    @property
    def study_instance_uid(self) -> str:
        """The study the report joins: the exam's own, unless its images are in a study
        linked to it by reconciliation (a modality's own Study UID), then that one."""
        if self.exam is None:
            return ""
        own, linked = self.exam.study_instance_uid, self.exam.studies
        return own if own in linked or not linked else linked[0]

    @property
    def field_rows(self) -> list[tuple[str, str]]:
        """The structured answers as (label, value with unit), in the template's order."""
        answers = self.version.fields or {}
        rows: list[tuple[str, str]] = []
        known = set()
        if self.template is not None:
            for spec in self.template.fields:
                known.add(spec.id)
                value = answers.get(spec.id)
                if value in (None, ""):
                    continue
                rows.append((spec.label, f"{value}{spec.unit}" if spec.unit else str(value)))
        rows += [(key, str(v)) for key, v in answers.items() if key not in known and v != ""]
        return rows

    @property
    def person_name(self) -> PersonName:
        """The patient's name: the RIS's now, else the report's copy."""
        if self.patient is not None:
            return self.patient.person_name
        return PersonName.parse(self.report.patient_name)

    @property
    def patient_display_name(self) -> str:
        """The name as a person reads it (王建国, never a ``^``)."""
        if self.patient is not None:
            return self.patient.display_name
        return names.display(self.report.patient_name)

    @property
    def requesting_department(self) -> str:
        """申请科室: the department that ordered the exam (HL7 ORC-17 / the order form), by
        its name when it is one of the RIS's department codes."""
        code = self.order.referring_department if self.order is not None else ""
        return dict(self.departments).get(code, code)

    @property
    def clinical_diagnosis(self) -> str:
        """临床诊断: what the order says about the patient (diagnosis, reason for the exam)."""
        return self.order.clinical_info if self.order is not None else ""

    @property
    def sex(self) -> str:
        return self.patient.sex if self.patient is not None else ""

    @property
    def birth_date(self) -> date | None:
        return self.patient.birth_date if self.patient is not None else None


@dataclass(frozen=True)
class SignedVersion:
    """One signature of a report: the first, or one after an amendment (and why it was)."""

    number: int
    username: str
    created_at: datetime
    reason: str  # the amendment's reason; "" for the first signature


def signed_versions(engine: Engine, report_id: int) -> list[SignedVersion]:
    """Every signed version of a report (the first signature and each amendment's), oldest
    first, each with the reason of the amendment that led to it."""
    with db.read(engine) as conn:
        rows = conn.execute(
            select(reporting_versions)
            .where(
                and_(
                    reporting_versions.c.report_id == report_id,
                    reporting_versions.c.action.in_((SIGN_ACTION, AMEND_ACTION)),
                )
            )
            .order_by(reporting_versions.c.number)
        ).all()
    out: list[SignedVersion] = []
    reason = ""
    for row in rows:
        version = records.version(row)
        if version.action == AMEND_ACTION:
            reason = version.reason
        else:
            out.append(SignedVersion(version.number, version.username, version.created_at, reason))
            reason = ""
    return out


def load(
    engine: Engine, ris: Ris | None, report_id: int, version: int | None = None
) -> SignedReport:
    """The report's signed version ``version`` (default: the newest signed one)."""
    with db.read(engine) as conn:
        report = records.report(records.report_row(conn, report_id))
        number = version if version is not None else report.signed_version
        row = None
        if number is not None:
            row = conn.execute(
                select(reporting_versions).where(
                    and_(
                        reporting_versions.c.report_id == report_id,
                        reporting_versions.c.number == number,
                        reporting_versions.c.action == SIGN_ACTION,
                    )
                )
            ).first()
        if row is None:
            raise NotFound(
                f"报告尚未签发 / report {report_id} has no signed version {number or ''}"
            )
        template = None
        if report.template_id is not None:
            trow = conn.execute(
                select(reporting_templates).where(reporting_templates.c.id == report.template_id)
            ).first()
            template = records.template(trow) if trow is not None else None
        numbers = conn.execute(
            select(reporting_versions.c.number)
            .where(
                and_(
                    reporting_versions.c.report_id == report_id,
                    reporting_versions.c.action == SIGN_ACTION,
                )
            )
            .order_by(reporting_versions.c.number)
        ).scalars()
        signed_numbers = tuple(numbers)
    exam, patient, order = _from_ris(ris, report)
    departments = tuple((d.code, d.name_zh) for d in ris.departments()) if ris is not None else ()
    return SignedReport(
        report, records.version(row), exam, patient, template, signed_numbers, order, departments
    )


def _from_ris(ris: Ris | None, report: Report) -> tuple[Exam | None, Patient | None, Order | None]:
    """The exam, patient and order as the RIS has them now; what it lacks is None (the
    report keeps its own copy of the identity: print what is known)."""
    exam = patient = order = None
    if ris is None:
        return exam, patient, order
    try:
        exam = ris.exam(report.exam_id)
        patient = ris.patient(report.patient_id, report.issuer)
        if exam.filler_order_number:
            order = ris.order(filler_order_number=exam.filler_order_number)
    except RisError:
        pass
    return exam, patient, order


def signed_without(engine: Engine, table: Table, kinds: tuple[str, ...]) -> list[tuple[int, int]]:
    """(report id, signed version) of the signed versions that lack a row of one of ``kinds``
    in ``table`` (the output's jobs, keyed by report_id, version, kind): an anti-join on that
    table's unique key, cheap however many reports are signed."""
    missing: set[tuple[int, int]] = set()
    with db.read(engine) as conn:
        for kind in kinds:
            have = (
                select(table.c.id)
                .where(
                    and_(
                        table.c.report_id == reporting_versions.c.report_id,
                        table.c.version == reporting_versions.c.number,
                        table.c.kind == kind,
                    )
                )
                .exists()
            )
            rows = conn.execute(
                select(reporting_versions.c.report_id, reporting_versions.c.number).where(
                    and_(reporting_versions.c.action == SIGN_ACTION, ~have)
                )
            )
            missing.update((row.report_id, row.number) for row in rows)
    return sorted(missing)


def reports_for(
    engine: Engine, *, accession_number: str = "", patient_id: str = ""
) -> list[Report]:
    """Reports with at least one signed version, by accession number or patient ID, newest
    first (what a clinician may read; drafts are never shown outside the department)."""
    query = select(reporting_reports).where(reporting_reports.c.signed_version.is_not(None))
    if accession_number:
        query = query.where(reporting_reports.c.accession_number == accession_number)
    elif patient_id:
        query = query.where(reporting_reports.c.patient_id == patient_id)
    else:
        return []
    with db.read(engine) as conn:
        rows = conn.execute(query.order_by(reporting_reports.c.created_at.desc())).all()
    return [records.report(row) for row in rows]
