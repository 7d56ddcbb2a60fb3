"""Turnaround (时间质控): how long each step of an exam took, medians and p90 against the
department's targets (:mod:`.targets`), by step, department and modality, emergency apart.

The moments of an exam: **ordered** (the order's ``created_at``), **arrived**, **started**
and **completed** (the first time the RIS history reached each status), **first report**
(the first submit or sign of its report) and **signed** (its first signature: an amendment
signed again later does not make the first turnaround longer). A step counts only for exams
that reached both of its moments. All moments of the figure's exams come from one query.

Percentiles interpolate between the two nearest durations (as PostgreSQL's
``percentile_cont`` and a spreadsheet's PERCENTILE do): p90 of 10, 20, 30, 40, 50 is 46.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, case, func, or_, select

from core_server import i18n
from core_server.db import UtcDateTime
from core_server.reporting.tables import reporting_history, reporting_reports
from core_server.ris.tables import ris_exam_history, ris_exams, ris_orders
from core_server.statistics.exams import drill_condition
from core_server.statistics.figures import Chart, Column, Figure, figure, ratio
from core_server.statistics.filters import Filters, exams_joined
from core_server.statistics.targets import Rules, Target, rules

# Each step: (from moment, to moment).
MOMENTS = ("ordered", "arrived", "started", "completed", "first_report", "signed")
STEP_MOMENTS = {
    "arrival": ("ordered", "arrived"),
    "start": ("arrived", "started"),
    "exam": ("started", "completed"),
    "report": ("completed", "first_report"),
    "sign": ("first_report", "signed"),
    "report_total": ("completed", "signed"),
    "total": ("ordered", "signed"),
}

# An exam is an emergency when its order says so (急诊 / 绿色通道) or is STAT.
EMERGENCY = or_(ris_orders.c.emergency.is_(True), ris_orders.c.priority == "STAT")


def priority_of(emergency: bool) -> str:
    return "emergency" if emergency else "routine"


@drill_condition("priority")
def _priority(value: str) -> ColumnElement[bool]:
    return EMERGENCY if value == "emergency" else ~EMERGENCY


def _first(status: str) -> Any:
    h = ris_exam_history.c
    return func.min(case((h.new_status == status, h.at)), type_=UtcDateTime())


def _first_report(actions: tuple[str, ...]) -> Any:
    """The first time the exam's report took one of ``actions`` (a correlated subquery: the
    report is found by its unique exam id, its history by its indexed report id)."""
    h = reporting_history.c
    return (
        select(func.min(h.at, type_=UtcDateTime()))
        .select_from(
            reporting_history.join(reporting_reports, reporting_reports.c.id == h.report_id)
        )
        .where(reporting_reports.c.exam_id == ris_exams.c.id, h.action.in_(actions))
        .scalar_subquery()
    )


@dataclass(frozen=True)
class ExamTimes:
    department: str
    modality: str
    priority: str
    at: dict[str, datetime | None]


def exam_times(conn: Connection, filters: Filters) -> list[ExamTimes]:
    """Every exam of the filter with its moments: one query (RIS history grouped by exam,
    the report's moments as two indexed subqueries)."""
    e = ris_exams.c
    query = exams_joined(
        select(
            e.id,
            e.department,
            e.modality,
            EMERGENCY.label("emergency"),
            ris_orders.c.created_at.label("ordered"),
            _first("arrived").label("arrived"),
            _first("in_progress").label("started"),
            _first("completed").label("completed"),
            _first_report(("submit", "sign")).label("first_report"),
            _first_report(("sign",)).label("signed"),
        )
    )
    query = (
        query.outerjoin(ris_exam_history, ris_exam_history.c.exam_fk == e.id)
        .where(filters.where(), e.status.not_in(("cancelled", "no_show")))
        .group_by(e.id, e.department, e.modality, EMERGENCY, ris_orders.c.created_at)
    )
    return [
        ExamTimes(
            row.department,
            row.modality,
            priority_of(bool(row.emergency)),
            {m: getattr(row, m) for m in MOMENTS},
        )
        for row in conn.execute(query)
    ]


def percentile(values: list[float], share: float) -> float | None:
    """The ``share`` (0..1) percentile of ``values``, interpolated; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = share * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Tally:
    """The durations (minutes) of one row, and how many met their target."""

    minutes: list[float] = field(default_factory=list)
    met: int = 0
    missed: int = 0
    targets: set[int] = field(default_factory=set)
    working: bool = False

    def add(self, minutes: float, target: Target | None, working: bool) -> None:
        self.minutes.append(minutes)
        if target is not None:
            self.targets.add(target.minutes)
            if minutes <= target.minutes:
                self.met += 1
            else:
                self.missed += 1
        self.working = self.working or working

    def row(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 1)

        return {
            "exams": len(self.minutes),
            "median": rounded(percentile(self.minutes, 0.5)),
            "p90": rounded(percentile(self.minutes, 0.9)),
            # One target, or the strictest when the row mixes departments with their own.
            "target": min(self.targets) if self.targets else None,
            "met": self.met,
            "missed": self.missed,
            "within": ratio(self.met, self.met + self.missed),
            "clock": "working" if self.working else "calendar",
        }


def tally(
    times: Iterable[ExamTimes], found: Rules, step: str, key: Callable[[ExamTimes], tuple[str, ...]]
) -> dict[tuple[str, ...], Tally]:
    """One step's durations per row key, each measured as its department's target says."""
    start, end = STEP_MOMENTS[step]
    rows: dict[tuple[str, ...], Tally] = {}
    for exam in times:
        began, ended = exam.at[start], exam.at[end]
        if began is None or ended is None:
            continue
        target = found.target(exam.department, exam.priority, step)
        taken = found.measure(exam.department, target, began, ended)
        working = found.clock_for(exam.department, target) is not None
        rows.setdefault(key(exam), Tally()).add(taken.total_seconds() / 60, target, working)
    return rows


TIME_COLUMNS = (
    Column("exams", "statistics.column.exams"),
    Column("median", "statistics.turnaround.column.median", "minutes"),
    Column("p90", "statistics.turnaround.column.p90", "minutes"),
    Column("target", "statistics.turnaround.column.target", "minutes"),
    Column("met", "statistics.turnaround.column.met"),
    Column("missed", "statistics.turnaround.column.missed"),
    Column("within", "statistics.turnaround.column.within", "percent"),
    Column("clock", "statistics.turnaround.column.clock", "text"),
)
LABELS = {
    "step": "statistics.turnaround.step.",
    "priority": "statistics.turnaround.priority.",
    "clock": "statistics.turnaround.clock.",
}


@dataclass(frozen=True)
class LabelledFigure(Figure):
    """A figure some of whose text columns hold codes shown by their catalogue label
    (``labels``: column key -> key prefix), in the page, its Excel and its PDF alike."""

    labels: dict[str, str] = field(default_factory=dict)

    def as_dict(self, lang: str, filters: Filters) -> dict[str, Any]:
        shown = super().as_dict(lang, filters)
        shown["rows"] = [
            {
                k: i18n.translate(lang, self.labels[k] + str(v)) if k in self.labels and v else v
                for k, v in row.items()
            }
            for row in self.rows
        ]
        return shown


@figure("time.steps", "statistics.figure.turnaround_steps", "time")
def by_step(conn: Connection, filters: Filters) -> Figure:
    """Each step, emergency and routine apart: the whole turnaround chain in one table."""
    times = exam_times(conn, filters)
    found = rules(conn)
    table: list[dict[str, Any]] = []
    drill: list[dict[str, str]] = []
    for step in STEP_MOMENTS:
        per = tally(times, found, step, lambda exam: (exam.priority,))
        for priority in ("emergency", "routine"):
            if (priority,) in per:
                table.append({"step": step, "priority": priority, **per[(priority,)].row()})
                drill.append({"priority": priority})
    return LabelledFigure(
        name="time.steps",
        title="statistics.figure.turnaround_steps",
        columns=(
            Column("step", "statistics.turnaround.column.step", "text"),
            Column("priority", "statistics.turnaround.column.priority", "text"),
            *TIME_COLUMNS,
        ),
        rows=table,
        chart=Chart("bar", "step", ("median", "p90")),
        drill=drill,
        note="statistics.turnaround.note.steps",
        labels=LABELS,
    )


def _by(dimension: str, name: str, title: str) -> Callable[[Connection, Filters], Figure]:
    """The report turnaround (completed to first report) per ``dimension`` and priority."""

    def build(conn: Connection, filters: Filters) -> Figure:
        times = exam_times(conn, filters)
        per = tally(
            times, rules(conn), "report", lambda exam: (getattr(exam, dimension), exam.priority)
        )
        keys = sorted(per, key=lambda k: (k[0], k[1] != "emergency"))
        table = [{dimension: k[0], "priority": k[1], **per[k].row()} for k in keys]
        return LabelledFigure(
            name=name,
            title=title,
            columns=(
                Column(dimension, f"statistics.turnaround.column.{dimension}", "text"),
                Column("priority", "statistics.turnaround.column.priority", "text"),
                *TIME_COLUMNS,
            ),
            rows=table,
            chart=Chart("bar", dimension, ("median", "p90")),
            drill=[{dimension: k[0], "priority": k[1]} for k in keys],
            note="statistics.turnaround.note.report",
            labels=LABELS,
        )

    figure(name, title, "time")(build)
    return build


by_department = _by(
    "department", "time.report_by_department", "statistics.figure.turnaround_by_department"
)
by_modality = _by("modality", "time.report_by_modality", "statistics.figure.turnaround_by_modality")
