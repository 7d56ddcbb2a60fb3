"""The reporting domain: reports, versions, sign-off, templates, critical values, follow-up.

Everything other packages use is here: the :class:`Reporting` service (built once per core
process in ``core_server.server.build_core``, made of one part per job: see
:mod:`~core_server.reporting.service`), its dataclasses, its refusals (a
:class:`~core_server.refusals.Refusal` each, texts in ``web/reporting/messages.json``) and
event names, :func:`report_statuses` (the study list's query) and :mod:`body_parts` (the
Chinese names of DICOM body parts).
"""

from collections.abc import Iterable

from sqlalchemy import Engine, select

from core_server import db
from core_server.reporting.base import SETTINGS, Doctor
from core_server.reporting.editing import Content
from core_server.reporting.models import (
    AGREEMENT,
    CRITICAL_VALUE_ACKNOWLEDGED,
    CRITICAL_VALUE_ESCALATED,
    CRITICAL_VALUE_RAISED,
    FIELD_TYPES,
    QUALITY_GRADES,
    REPORT_REJECTED,
    REPORT_REOPENED,
    REPORT_SIGNED,
    REPORT_SUBMITTED,
    TEMPLATE_SCOPES,
    AlertEvent,
    AlertNotice,
    Conflict,
    CriticalAlert,
    Forbidden,
    Grade,
    HistoryEntry,
    KeyImage,
    Locked,
    NotFound,
    Report,
    ReportingError,
    ReportStatus,
    ResultEvent,
    Template,
    TemplateField,
    Version,
    WordCheckFailed,
    WordRule,
    WorklistPage,
    WorklistRow,
)
from core_server.reporting.service import Reporting
from core_server.reporting.text import diff, plain, sanitize


def report_statuses(engine: Engine, accession_numbers: Iterable[str]) -> dict[str, ReportStatus]:
    """The status of the report of each accession number that has one (the study list's
    report column); an accession number without a report is absent. Read-only."""
    from core_server.reporting.tables import reporting_reports as reports

    wanted = sorted({a for a in accession_numbers if a})
    found: dict[str, ReportStatus] = {}
    with db.read(engine) as conn:
        for start in range(0, len(wanted), 500):
            rows = conn.execute(
                select(reports.c.accession_number, reports.c.status)
                .where(reports.c.accession_number.in_(wanted[start : start + 500]))
                .order_by(reports.c.id)
            )
            for accession, status in rows:
                found[accession] = ReportStatus(status)  # the newest report wins
    return found


__all__ = [
    "AGREEMENT",
    "CRITICAL_VALUE_ACKNOWLEDGED",
    "CRITICAL_VALUE_ESCALATED",
    "CRITICAL_VALUE_RAISED",
    "FIELD_TYPES",
    "QUALITY_GRADES",
    "REPORT_REJECTED",
    "REPORT_REOPENED",
    "REPORT_SIGNED",
    "REPORT_SUBMITTED",
    "SETTINGS",
    "TEMPLATE_SCOPES",
    "AlertEvent",
    "AlertNotice",
    "Conflict",
    "Content",
    "CriticalAlert",
    "Doctor",
    "Forbidden",
    "Grade",
    "HistoryEntry",
    "KeyImage",
    "Locked",
    "NotFound",
    "Report",
    "ReportStatus",
    "Reporting",
    "ReportingError",
    "ResultEvent",
    "Template",
    "TemplateField",
    "Version",
    "WordCheckFailed",
    "WordRule",
    "WorklistPage",
    "WorklistRow",
    "diff",
    "plain",
    "report_statuses",
    "sanitize",
]
