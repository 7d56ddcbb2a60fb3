"""How much review changed each signed report (characters between the text first submitted and
the text signed, :func:`core_server.quality.report_quality.change_size`), kept per exam in
``statistics_report_changes`` beside the facts table and kept up to date with it (a signature
is a reporting history step, so the facts' catch-up re-derives it). Measured with difflib in
Python, which a year of reports cannot afford on every request (11 s on 300,000 reports).

A report never submitted (signed directly by its author) or not signed has no row: there is
nothing to measure. Equal texts are 0 without running the matcher.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    ForeignKey,
    Integer,
    Table,
    and_,
    delete,
    func,
    insert,
    select,
)

from core_server.db import metadata
from core_server.quality.report_quality import change_size, report_text
from core_server.reporting.tables import reporting_reports, reporting_versions

statistics_report_changes = Table(
    "statistics_report_changes",
    metadata,
    Column("exam_id", Integer, ForeignKey("ris_exams.id"), primary_key=True, autoincrement=False),
    Column("chars", Integer, nullable=False),
)


def _measured(rows: Sequence[Any]) -> list[dict[str, int]]:
    found = []
    for row in rows:
        same = row.old_findings == row.findings and row.old_impression == row.impression
        size = (
            0
            if same
            else change_size(
                report_text(row.old_findings, row.old_impression),
                report_text(row.findings, row.impression),
            )
        )
        found.append({"exam_id": row.exam_id, "chars": size})
    return found


def _texts(which: ColumnElement[bool]) -> Any:
    """Per signed report of the exams ``which`` picks: the first submitted and signed texts."""
    v = reporting_versions.c
    r = reporting_reports.c
    first = (
        select(func.min(v.number))
        .where(v.report_id == r.id, v.action == "submit")
        .correlate(reporting_reports)
        .scalar_subquery()
    )
    submitted = reporting_versions.alias("submitted")
    signed = reporting_versions.alias("signed")
    return (
        select(
            r.exam_id,
            submitted.c.findings.label("old_findings"),
            submitted.c.impression.label("old_impression"),
            signed.c.findings,
            signed.c.impression,
        )
        .select_from(reporting_reports)
        .join(signed, and_(signed.c.report_id == r.id, signed.c.number == r.signed_version))
        .join(submitted, and_(submitted.c.report_id == r.id, submitted.c.number == first))
        .where(which, r.signed_version.is_not(None))
    )


def refresh(conn: Connection, exam_ids: Sequence[int]) -> None:
    """Measure again the reports of ``exam_ids`` (one bounded chunk)."""
    conn.execute(
        delete(statistics_report_changes).where(statistics_report_changes.c.exam_id.in_(exam_ids))
    )
    rows = _measured(conn.execute(_texts(reporting_reports.c.exam_id.in_(exam_ids))).all())
    if rows:
        conn.execute(insert(statistics_report_changes), rows)


def rebuild(conn: Connection, first: int, last: int) -> None:
    """Measure the reports of exams ``first < id <= last`` (the table emptied before)."""
    exam = reporting_reports.c.exam_id
    rows = _measured(conn.execute(_texts(and_(exam > first, exam <= last))).all())
    if rows:
        conn.execute(insert(statistics_report_changes), rows)
