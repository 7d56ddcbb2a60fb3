"""The exam list behind every figure (its drill-down): the exams a filter and a clicked row
select, newest first, as a person reads them.

A figure whose rows are not a plain dimension (a technician, a grade, an overdue step)
registers the condition its ``drill`` key stands for with :func:`drill_condition`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select

from core_server import clock, names
from core_server.refusals import Invalid
from core_server.ris.tables import ris_exams, ris_orders, ris_patients, ris_visits
from core_server.statistics.filters import EXAM_TIME, Filters, exams_joined

LIMIT = 500  # rows one page of the list shows (the count says how many there are)

Condition = Callable[[str], ColumnElement[bool]]
_CONDITIONS: dict[str, Condition] = {}


def drill_condition(key: str) -> Callable[[Condition], Condition]:
    """Register what ``?<key>=value`` on the exam list selects."""

    def register(condition: Condition) -> Condition:
        if key in _CONDITIONS:
            raise ValueError(f"drill key {key!r} registered twice")
        _CONDITIONS[key] = condition
        return condition

    return register


@drill_condition("status")
def _status(value: str) -> ColumnElement[bool]:
    return ris_exams.c.status == value


@drill_condition("day")
def _day(value: str) -> ColumnElement[bool]:
    """One hospital day of the range (a bar of a per-day chart)."""
    try:
        start, end = clock.local_day_bounds(date.fromisoformat(value))
    except ValueError:
        raise Invalid("statistics.bad_range", start=value, end=value) from None
    return (start <= EXAM_TIME) & (end > EXAM_TIME)


def exam_list(
    conn: Connection, filters: Filters, drill: Mapping[str, str], offset: int = 0
) -> dict[str, Any]:
    """``{"total", "exams": [...]}``: at most :data:`LIMIT` exams from ``offset``."""
    terms = [filters.where()]
    for key, value in drill.items():
        condition = _CONDITIONS.get(key)
        if condition is None:
            raise Invalid("statistics.unknown_drill", key=key)
        terms.append(condition(value))
    total = conn.execute(exams_joined(select(func.count())).where(*terms)).scalar_one()
    rows = conn.execute(
        exams_joined(
            select(
                ris_exams.c.id,
                ris_exams.c.accession_number,
                ris_exams.c.procedure_name,
                ris_exams.c.modality,
                ris_exams.c.department,
                ris_exams.c.room,
                ris_exams.c.status,
                ris_exams.c.study_instance_uid,
                EXAM_TIME.label("exam_time"),
                ris_orders.c.referring_department,
                ris_visits.c.patient_class,
                ris_patients.c.patient_id,
                ris_patients.c.name,
            )
        )
        .join(ris_patients, ris_patients.c.id == ris_exams.c.patient_fk)
        .where(*terms)
        .order_by(EXAM_TIME.desc(), ris_exams.c.id.desc())
        .limit(LIMIT)
        .offset(max(offset, 0))
    ).all()
    return {"total": total, "offset": offset, "limit": LIMIT, "exams": [_exam(r) for r in rows]}


def _exam(row: Any) -> dict[str, Any]:
    return {
        "exam_id": row.id,
        "accession_number": row.accession_number,
        "patient_id": row.patient_id,
        "patient_name": names.display(row.name),
        "procedure": row.procedure_name,
        "modality": row.modality,
        "department": row.department,
        "room": row.room,
        "status": row.status,
        "study_instance_uid": row.study_instance_uid,
        "exam_time": clock.iso(row.exam_time),
        "referring_department": row.referring_department,
        "patient_class": row.patient_class or "",
    }
