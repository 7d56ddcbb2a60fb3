"""Quality figures (质控统计): image grades per technician (优/良/中/差, % 差, retakes) and
report grades per reporting doctor with how much reviewers changed their reports.

- The *technician* of an exam is whoever moved it to ``completed`` (its RIS history; the
  newest such step, kept per exam in the facts table :mod:`.facts`). The image grade is the
  exam's current one (the report's column, set from the QC page, the technician's page or the
  editor). *Retakes* counts the RIS retake exams
  made from the technician's exams (any kind, whoever asked); *sent back* those QC sent.
- The *doctor* of a report is its author (一级); only signed reports count. The change is
  between the text first submitted and the text signed (``quality.report_quality.change_size``,
  kept per exam by :mod:`.changes`); a report signed without a submission (signed directly by
  its author) has no change to measure and is left out of the mean.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select

from core_server.quality.models import GRADES
from core_server.quality.tables import quality_retakes
from core_server.reporting.tables import reporting_reports
from core_server.ris.tables import ris_exams
from core_server.statistics.changes import statistics_report_changes
from core_server.statistics.exams import drill_condition
from core_server.statistics.facts import statistics_exam_facts
from core_server.statistics.figures import Chart, Column, Figure, figure, ratio
from core_server.statistics.filters import Filters, exams_joined

_GRADE_COLUMNS = tuple(Column(g, f"statistics.column.qc_{g}") for g in GRADES)


@figure("quality.images_by_technician", "statistics.figure.quality_images_by_technician", "quality")
def images_by_technician(conn: Connection, filters: Filters) -> Figure:
    done = statistics_exam_facts.c
    retake = ris_exams.alias("retake")
    retakes = select(func.count()).where(retake.c.retake_of_fk == ris_exams.c.id).scalar_subquery()
    sent = select(func.count()).where(quality_retakes.c.exam_id == ris_exams.c.id).scalar_subquery()
    query = exams_joined(
        select(
            done.completed_by,
            reporting_reports.c.image_quality,
            retakes.label("retakes"),
            sent.label("sent"),
        )
    )
    query = (
        query.join(statistics_exam_facts, done.exam_id == ris_exams.c.id)
        .outerjoin(reporting_reports, reporting_reports.c.exam_id == ris_exams.c.id)
        .where(done.completed_by.is_not(None))
    )
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for who, grade, n_retakes, n_sent in conn.execute(query.where(filters.where())):
        counts = per[who]
        counts["exams"] += 1
        if grade in GRADES:
            counts[grade] += 1
            counts["graded"] += 1
        counts["retakes"] += int(n_retakes)
        counts["sent_back"] += int(n_sent)
    rows = sorted(
        (_technician_row(who, counts) for who, counts in per.items()),
        key=lambda r: (-r["exams"], r["technician"]),
    )
    total: Counter[str] = sum(per.values(), Counter())
    totals = _technician_row("", total)
    del totals["technician"]
    return Figure(
        name="quality.images_by_technician",
        title="statistics.figure.quality_images_by_technician",
        columns=(
            Column("technician", "statistics.column.qc_technician", "text"),
            Column("exams", "statistics.column.qc_exams"),
            Column("graded", "statistics.column.qc_graded"),
            *_GRADE_COLUMNS,
            Column("poor_percent", "statistics.column.qc_poor_percent", "percent"),
            Column("retakes", "statistics.column.qc_retakes"),
            Column("sent_back", "statistics.column.qc_sent_back"),
        ),
        rows=rows,
        chart=Chart("bar", "technician", GRADES),
        totals=totals,
        drill=[{"qc_technician": r["technician"]} for r in rows],
        note="statistics.note.quality_images",
    )


def _technician_row(who: str, counts: Counter[str]) -> dict[str, Any]:
    return {
        "technician": who,
        "exams": counts["exams"],
        "graded": counts["graded"],
        **{g: counts[g] for g in GRADES},
        "poor_percent": ratio(counts["poor"], counts["graded"]),
        "retakes": counts["retakes"],
        "sent_back": counts["sent_back"],
    }


@figure("quality.reports_by_doctor", "statistics.figure.quality_reports_by_doctor", "quality")
def reports_by_doctor(conn: Connection, filters: Filters) -> Figure:
    r = reporting_reports.c
    change = statistics_report_changes.c
    query = (
        exams_joined(select(r.author, r.report_quality, change.chars))
        .join(reporting_reports, r.exam_id == ris_exams.c.id)
        .outerjoin(statistics_report_changes, change.exam_id == ris_exams.c.id)
        .where(filters.where(), r.signed_version.is_not(None))
    )
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for author, grade, chars in conn.execute(query):
        counts = per[author]
        counts["signed"] += 1
        if grade in GRADES:
            counts[grade] += 1
            counts["graded"] += 1
        if chars is not None:  # kept by the facts' catch-up (:mod:`.changes`)
            counts["measured"] += 1
            counts["changed"] += chars > 0
            counts["chars"] += chars
    rows = sorted(
        (_doctor_row(who, counts) for who, counts in per.items()),
        key=lambda row: (-row["signed"], row["doctor"]),
    )
    totals = _doctor_row("", sum(per.values(), Counter()))
    del totals["doctor"]
    return Figure(
        name="quality.reports_by_doctor",
        title="statistics.figure.quality_reports_by_doctor",
        columns=(
            Column("doctor", "statistics.column.qc_doctor", "text"),
            Column("signed", "statistics.column.qc_signed"),
            Column("graded", "statistics.column.qc_graded"),
            *_GRADE_COLUMNS,
            Column("excellent_percent", "statistics.column.qc_excellent_percent", "percent"),
            Column("changed", "statistics.column.qc_changed"),
            Column("mean_change", "statistics.column.qc_mean_change"),
        ),
        rows=rows,
        chart=Chart("bar", "doctor", GRADES),
        totals=totals,
        drill=[{"qc_author": row["doctor"]} for row in rows],
        note="statistics.note.quality_reports",
    )


def _doctor_row(who: str, counts: Counter[str]) -> dict[str, Any]:
    measured = counts["measured"]
    return {
        "doctor": who,
        "signed": counts["signed"],
        "graded": counts["graded"],
        **{g: counts[g] for g in GRADES},
        "excellent_percent": ratio(counts["excellent"], counts["graded"]),
        "changed": counts["changed"],
        "mean_change": round(counts["chars"] / measured, 1) if measured else None,
    }


@drill_condition("qc_technician")
def _technician(value: str) -> ColumnElement[bool]:
    done = statistics_exam_facts.c
    return ris_exams.c.id.in_(select(done.exam_id).where(done.completed_by == value))


@drill_condition("qc_author")
def _author(value: str) -> ColumnElement[bool]:
    r = reporting_reports.c
    return ris_exams.c.id.in_(
        select(r.exam_id).where(r.author == value, r.signed_version.is_not(None))
    )
