"""Positive rate (阳性率) of signed reports, by modality and by department, with and without
体检 patients (patient type ``physical_exam``): health checks are mostly negative and would
hide the rate of the patients who were sent with a question.

Only reports whose status is ``signed`` count (a draft, a report waiting for review, a signed
report reopened for an amendment do not: their flag is not yet the result the HIS has). The
rate is positive reports over signed reports; a signed report whose positive flag was never
set counts as not positive. The exam counts in the range of its exam time.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, exists, func, select

from core_server.reporting.tables import reporting_reports
from core_server.ris.tables import ris_departments, ris_exams, ris_visits
from core_server.statistics.exams import drill_condition
from core_server.statistics.figures import Chart, Column, Figure, figure, ratio
from core_server.statistics.filters import Filters, exams_joined

r = reporting_reports.c
SIGNED = r.status == "signed"
POSITIVE = r.positive.is_(True)
_HEALTH_CHECK = func.coalesce(ris_visits.c.patient_class, "") == "physical_exam"

_COLUMNS = (
    Column("signed", "statistics.workload.column.reports_signed"),
    Column("positive", "statistics.workload.column.positive"),
    Column("rate", "statistics.workload.column.positive_rate", "percent"),
    Column("signed_patients", "statistics.workload.column.signed_without_checks"),
    Column("positive_patients", "statistics.workload.column.positive_without_checks"),
    Column("rate_patients", "statistics.workload.column.positive_rate_without_checks", "percent"),
)


@drill_condition("signed_report")
def _signed_report(value: str) -> ColumnElement[bool]:
    """``all``: the exam's report is signed; ``positive``: and flagged positive."""
    terms = [r.exam_id == ris_exams.c.id, SIGNED]
    if value == "positive":
        terms.append(POSITIVE)
    return exists(select(r.id).where(*terms).correlate(ris_exams))


def _one(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _rates(conn: Connection, filters: Filters, key: Any) -> list[dict[str, Any]]:
    query = (
        exams_joined(
            select(
                key.label("key"),
                func.count().label("signed"),
                _one(POSITIVE).label("positive"),
                _one(~_HEALTH_CHECK).label("signed_patients"),
                _one(and_(POSITIVE, ~_HEALTH_CHECK)).label("positive_patients"),
            )
        )
        .join(reporting_reports, r.exam_id == ris_exams.c.id)
        .where(filters.where(), SIGNED)
        .group_by(key)
    )
    return [_row(dict(m)) for m in conn.execute(query).mappings()]


def _row(counts: dict[str, Any]) -> dict[str, Any]:
    row = {k: int(v) if k != "key" else v for k, v in counts.items()}
    row["rate"] = ratio(row["positive"], row["signed"])
    row["rate_patients"] = ratio(row["positive_patients"], row["signed_patients"])
    return row


def _figure(name: str, title: str, key: str, rows: list[dict[str, Any]], *lead: Column) -> Figure:
    rows.sort(key=lambda row: (-row["signed"], row[key]))
    totals = _row(
        {k: sum(row[k] for row in rows) for k in ("signed", "positive", "signed_patients")}
        | {"positive_patients": sum(row["positive_patients"] for row in rows)}
    )
    return Figure(
        name=name,
        title=title,
        columns=(*lead, *_COLUMNS),
        rows=rows,
        chart=Chart("bar", key, ("rate", "rate_patients")),
        totals=totals,
        drill=[{key: row[key], "signed_report": "all"} for row in rows],
        note="statistics.workload.note.positive",
    )


@figure("positive.by_modality", "statistics.workload.figure.positive_by_modality", "quality")
def by_modality(conn: Connection, filters: Filters) -> Figure:
    rows = [
        {"modality": row.pop("key"), **row} for row in _rates(conn, filters, ris_exams.c.modality)
    ]
    return _figure(
        "positive.by_modality",
        "statistics.workload.figure.positive_by_modality",
        "modality",
        rows,
        Column("modality", "statistics.column.modality", "text"),
    )


@figure("positive.by_department", "statistics.workload.figure.positive_by_department", "quality")
def by_department(conn: Connection, filters: Filters) -> Figure:
    names = dict(conn.execute(select(ris_departments.c.code, ris_departments.c.name_zh)).all())
    rows = [
        {"department": (code := row.pop("key")), "department_name": names.get(code, code), **row}
        for row in _rates(conn, filters, ris_exams.c.department)
    ]
    return _figure(
        "positive.by_department",
        "statistics.workload.figure.positive_by_department",
        "department",
        rows,
        Column("department", "statistics.workload.column.department", "text"),
        Column("department_name", "statistics.workload.column.department_name", "text"),
    )
