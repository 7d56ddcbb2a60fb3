"""Workload of the reporting room, one row per person: reports written (一级, 报告医生),
reports reviewed (二级, 审核医生), reports typed for a doctor (记录员), and rejections suffered
(reports sent back to their writer). Read from the reporting history's steps, whatever the
report's status now; an exam counts in the range of its exam time, like every figure.

* **written**: the doctor who submitted the report (or, at one level, signed their own
  draft). A report counts once per doctor, also when it was sent back and submitted again;
  after an amendment written by another doctor, it counts for both.
* **reviewed**: a review step, or a signature of a submitted or reviewed report (not of one's
  own draft at one level). With three levels the attending who reviews and the chief who signs
  each count the report once; ``signed`` is the part of those the person signed.
* **recorder**: the reporting data keeps as ``author`` whoever first typed the draft; when
  that person never submitted it (a 记录员 typed what a doctor dictated, then the doctor
  submitted), the typist counts as its recorder. This is the smallest reading of the data
  that tells a recorder from a doctor; no new column was needed.
* **rejections**: each rejection is suffered by whoever made the last submission before it
  (the writer whose report went back). ``reports`` counts reports sent back at least once
  (what the drill-down lists), ``rejections`` the steps (a report sent back twice: two).

Every figure groups in SQL over the exams of the range joined to their report (one
``exam_id`` each) and its history; the drill-down conditions are the same ``EXISTS``
expressions, so a row's exam list holds exactly the exams it counts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, exists, func, or_, select

from core_server.reporting.tables import reporting_history, reporting_reports
from core_server.ris.tables import ris_exams
from core_server.statistics.exams import drill_condition
from core_server.statistics.figures import Column, Figure, figure
from core_server.statistics.filters import Filters, exams_joined
from core_server.statistics.people import person_figure

r = reporting_reports.c
h = reporting_history.c
WRITE = or_(h.action == "submit", and_(h.action == "sign", h.old_status == "draft"))
REVIEW = or_(h.action == "review", and_(h.action == "sign", h.old_status != "draft"))
REJECT = h.action == "reject"

# The writer a rejection went back to: the last submission before it.
_earlier = reporting_history.alias("earlier")
REJECTED_WRITER = (
    select(_earlier.c.username)
    .where(
        _earlier.c.report_id == h.report_id,
        _earlier.c.action == "submit",
        _earlier.c.id < h.id,
    )
    .order_by(_earlier.c.id.desc())
    .limit(1)
    .correlate(reporting_history)
    .scalar_subquery()
)


def _of_exam() -> ColumnElement[bool]:
    return r.exam_id == ris_exams.c.id


def _steps(filters: Filters, who: Any, step: ColumnElement[bool], **counts: Any) -> Any:
    """Per ``who``: the distinct exams of the range with ``step`` in their report's history."""
    return (
        exams_joined(
            select(
                who.label("who"),
                func.count(func.distinct(ris_exams.c.id)).label("reports"),
                *(v.label(k) for k, v in counts.items()),
            )
        )
        .join(reporting_reports, _of_exam())
        .join(reporting_history, h.report_id == r.id)
        .where(filters.where(), step)
        .group_by(who)
    )


def _step_by(step: ColumnElement[bool], who: Any, value: str) -> ColumnElement[bool]:
    return exists(
        select(h.id)
        .select_from(reporting_history.join(reporting_reports, h.report_id == r.id))
        .where(_of_exam(), step, who == value)
        .correlate(ris_exams)
    )


@drill_condition("reporting_doctor")
def _written_by(value: str) -> ColumnElement[bool]:
    return _step_by(WRITE, h.username, value)


@drill_condition("reviewing_doctor")
def _reviewed_by(value: str) -> ColumnElement[bool]:
    return _step_by(REVIEW, h.username, value)


@drill_condition("rejected_writer")
def _rejected(value: str) -> ColumnElement[bool]:
    return _step_by(REJECT, REJECTED_WRITER, value)


def _typed_for_another() -> ColumnElement[bool]:
    """The report's first typist never submitted it (and someone did)."""
    submitted = select(h.id).where(h.report_id == r.id, WRITE).correlate(reporting_reports)
    by_author = submitted.where(h.username == r.author)
    return and_(r.author != "", exists(submitted), ~exists(by_author))


@drill_condition("recorder")
def _recorded_by(value: str) -> ColumnElement[bool]:
    return exists(
        select(r.id).where(_of_exam(), r.author == value, _typed_for_another()).correlate(ris_exams)
    )


@figure("workload.reporting_doctor", "statistics.workload.figure.reporting", "workload")
def reporting_doctors(conn: Connection, filters: Filters) -> Figure:
    return person_figure(
        conn,
        _steps(filters, h.username, WRITE),
        name="workload.reporting_doctor",
        title="statistics.workload.figure.reporting",
        columns=(Column("reports", "statistics.workload.column.reports_written"),),
        drill_key="reporting_doctor",
        note="statistics.workload.note.reporting",
    )


@figure("workload.reviewing_doctor", "statistics.workload.figure.reviewing", "workload")
def reviewing_doctors(conn: Connection, filters: Filters) -> Figure:
    signed = func.count(func.distinct(case((h.action == "sign", ris_exams.c.id))))
    return person_figure(
        conn,
        _steps(filters, h.username, REVIEW, signed=signed),
        name="workload.reviewing_doctor",
        title="statistics.workload.figure.reviewing",
        columns=(
            Column("reports", "statistics.workload.column.reports_reviewed"),
            Column("signed", "statistics.workload.column.reports_signed"),
        ),
        drill_key="reviewing_doctor",
        note="statistics.workload.note.reviewing",
    )


@figure("workload.recorder", "statistics.workload.figure.recorder", "workload")
def recorders(conn: Connection, filters: Filters) -> Figure:
    query = (
        exams_joined(select(r.author.label("who"), func.count().label("reports")))
        .join(reporting_reports, _of_exam())
        .where(filters.where(), _typed_for_another())
        .group_by(r.author)
    )
    return person_figure(
        conn,
        query,
        name="workload.recorder",
        title="statistics.workload.figure.recorder",
        columns=(Column("reports", "statistics.workload.column.reports_typed"),),
        drill_key="recorder",
        note="statistics.workload.note.recorder",
    )


@figure("workload.rejections", "statistics.workload.figure.rejections", "workload")
def rejections(conn: Connection, filters: Filters) -> Figure:
    inner = (
        exams_joined(select(REJECTED_WRITER.label("who"), ris_exams.c.id.label("exam")))
        .join(reporting_reports, _of_exam())
        .join(reporting_history, h.report_id == r.id)
        .where(filters.where(), REJECT)
        .subquery()
    )
    query = select(
        inner.c.who,
        func.count(func.distinct(inner.c.exam)).label("reports"),
        func.count().label("rejections"),
    ).group_by(inner.c.who)
    return person_figure(
        conn,
        query,
        name="workload.rejections",
        title="statistics.workload.figure.rejections",
        columns=(
            Column("reports", "statistics.workload.column.reports_rejected"),
            Column("rejections", "statistics.workload.column.rejections"),
        ),
        drill_key="rejected_writer",
        note="statistics.workload.note.rejections",
    )
