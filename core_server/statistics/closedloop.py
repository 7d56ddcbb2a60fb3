"""The critical-value closed loop (危急值闭环): minutes from the flag (the doctor raising it) to
the clinician's acknowledgement, against the ``critical_ack`` target of the exam's department
(default 15 min). An alert still open past its limit counts as over the limit now.

Alerts belong to the range by their exam's time, like every figure, so the dimension filters
apply to them too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, exists, select

from core_server import clock
from core_server.reporting.tables import reporting_critical_alerts, reporting_reports
from core_server.ris.tables import ris_exams
from core_server.statistics.exams import drill_condition
from core_server.statistics.figures import Chart, Column, Figure, figure, ratio
from core_server.statistics.filters import Filters, exams_joined
from core_server.statistics.targets import rules
from core_server.statistics.turnaround import EMERGENCY, LabelledFigure, Tally, priority_of

STEP = "critical_ack"
a = reporting_critical_alerts.c


@drill_condition("critical_alert")
def _alert(value: str) -> ColumnElement[bool]:
    """The exam of one alert (``any``: every exam with a critical value)."""
    terms = [reporting_reports.c.id == a.report_id, reporting_reports.c.exam_id == ris_exams.c.id]
    if value != "any":
        terms.append(a.id == (int(value) if value.isdigit() else -1))
    return exists(select(a.id).where(*terms))


def _alerts(conn: Connection, filters: Filters) -> list[Any]:
    query = exams_joined(
        select(
            a.id,
            a.raised_at,
            a.acknowledged_at,
            a.status,
            ris_exams.c.department,
            ris_exams.c.accession_number,
            EMERGENCY.label("emergency"),
        )
    ).join(reporting_reports, reporting_reports.c.exam_id == ris_exams.c.id)
    query = query.join(reporting_critical_alerts, a.report_id == reporting_reports.c.id)
    return list(conn.execute(query.where(filters.where()).order_by(a.raised_at, a.id)))


def _measured(conn: Connection, filters: Filters) -> list[tuple[Any, float, int | None, bool]]:
    """Each alert with its minutes (until now if open), its limit and whether it is over."""
    found, now = rules(conn), clock.now()
    measured = []
    for row in _alerts(conn, filters):
        target = found.target(row.department, priority_of(bool(row.emergency)), STEP)
        until: datetime = row.acknowledged_at or now
        minutes = found.measure(row.department, target, row.raised_at, until).total_seconds() / 60
        limit = target.minutes if target else None
        measured.append((row, minutes, limit, limit is not None and minutes > limit))
    return measured


@figure("time.critical", "statistics.figure.critical_by_department", "time")
def by_department(conn: Connection, filters: Filters) -> Figure:
    per: dict[str, tuple[Tally, list[int]]] = {}
    found = rules(conn)
    for row, minutes, _limit, late in _measured(conn, filters):
        tally, counts = per.setdefault(row.department, (Tally(), [0, 0]))
        if row.acknowledged_at is None:
            counts[0] += 1  # still open
        if late:
            counts[1] += 1
        if row.acknowledged_at is not None:
            target = found.target(row.department, priority_of(bool(row.emergency)), STEP)
            tally.add(minutes, target, found.clock_for(row.department, target) is not None)
    table = []
    for department in sorted(per):
        tally, (still_open, over_limit) = per[department]
        shown = tally.row()
        alerts = shown["exams"] + still_open
        table.append(
            {
                "department": department,
                "alerts": alerts,
                "acknowledged": shown["exams"],
                "open": still_open,
                "median": shown["median"],
                "p90": shown["p90"],
                "target": shown["target"],
                "over": over_limit,
                "within": ratio(alerts - over_limit, alerts),
            }
        )
    return Figure(
        name="time.critical",
        title="statistics.figure.critical_by_department",
        columns=(
            Column("department", "statistics.turnaround.column.department", "text"),
            Column("alerts", "statistics.turnaround.column.alerts"),
            Column("acknowledged", "statistics.turnaround.column.acknowledged"),
            Column("open", "statistics.turnaround.column.open"),
            Column("median", "statistics.turnaround.column.median", "minutes"),
            Column("p90", "statistics.turnaround.column.p90", "minutes"),
            Column("target", "statistics.turnaround.column.target", "minutes"),
            Column("over", "statistics.turnaround.column.over_limit"),
            Column("within", "statistics.turnaround.column.within", "percent"),
        ),
        rows=table,
        chart=Chart("bar", "department", ("acknowledged", "over")),
        totals={k: sum(r[k] for r in table) for k in ("alerts", "acknowledged", "open", "over")},
        drill=[{"department": r["department"], "critical_alert": "any"} for r in table],
        note="statistics.turnaround.note.critical",
    )


@figure("time.critical_alerts", "statistics.figure.critical_alerts", "time")
def alerts(conn: Connection, filters: Filters) -> Figure:
    """Every alert of the range, those over the limit said so in their own column."""
    measured = _measured(conn, filters)
    table = [
        {
            "raised_at": clock.shown(row.raised_at),
            "department": row.department,
            "accession_number": row.accession_number,
            "minutes": round(minutes, 1),
            "target": limit,
            "over": "yes" if over else "no",
            "state": "open" if row.acknowledged_at is None else "acknowledged",
        }
        for row, minutes, limit, over in measured
    ]
    return LabelledFigure(
        name="time.critical_alerts",
        title="statistics.figure.critical_alerts",
        columns=(
            Column("raised_at", "statistics.turnaround.column.raised_at", "text"),
            Column("department", "statistics.turnaround.column.department", "text"),
            Column("accession_number", "statistics.turnaround.column.accession_number", "text"),
            Column("minutes", "statistics.turnaround.column.ack_minutes", "minutes"),
            Column("target", "statistics.turnaround.column.target", "minutes"),
            Column("over", "statistics.turnaround.column.over", "text"),
            Column("state", "statistics.turnaround.column.state", "text"),
        ),
        rows=table,
        chart=None,
        drill=[{"critical_alert": str(row.id)} for row, *_ in measured],
        note="statistics.turnaround.note.critical",
        labels={"over": "statistics.turnaround.over.", "state": "statistics.turnaround.state."},
    )
