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
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Float, case, cast, func, or_, select

from core_server import i18n
from core_server.reporting.tables import reporting_history, reporting_reports
from core_server.ris.tables import ris_exam_history, ris_exams, ris_orders
from core_server.statistics.exams import drill_condition
from core_server.statistics.figures import Chart, Column, Figure, figure, ratio
from core_server.statistics.filters import Filters, exams_joined
from core_server.statistics.targets import Rules, Target, rules
from core_server.statistics.workhours import WorkingHours

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


def epoch(conn: Connection, moment: Any) -> Any:
    """``moment`` as seconds since 1970 (a float): subtracting floats is what a year of exams
    can afford, where building a datetime per moment is not."""
    if conn.dialect.name == "sqlite":  # stored as ISO text in UTC
        return (func.julianday(moment) - 2440587.5) * 86400.0
    return cast(func.extract("epoch", moment), Float)


def _first(conn: Connection, status: str) -> Any:
    h = ris_exam_history.c
    return epoch(conn, func.min(case((h.new_status == status, h.at))))


def _first_report(conn: Connection, actions: tuple[str, ...]) -> Any:
    """The first time the exam's report took one of ``actions`` (a correlated subquery: the
    report is found by its unique exam id, its history by its indexed report id)."""
    h = reporting_history.c
    return (
        select(epoch(conn, func.min(h.at)))
        .select_from(
            reporting_history.join(reporting_reports, reporting_reports.c.id == h.report_id)
        )
        .where(reporting_reports.c.exam_id == ris_exams.c.id, h.action.in_(actions))
        .scalar_subquery()
    )


# One exam's row: department, modality, priority, then its moments (epoch seconds or None)
# in the order of MOMENTS.
ExamTimes = tuple[Any, ...]
DEPARTMENT, MODALITY, PRIORITY = 0, 1, 2
AT = {moment: 3 + n for n, moment in enumerate(MOMENTS)}


def exam_times(conn: Connection, filters: Filters) -> list[ExamTimes]:
    """Every exam of the filter with its moments: one query (RIS history grouped by exam,
    the report's moments as two indexed subqueries)."""
    e = ris_exams.c
    query = exams_joined(
        select(
            e.department,
            e.modality,
            EMERGENCY.label("emergency"),
            epoch(conn, ris_orders.c.created_at),
            _first(conn, "arrived"),
            _first(conn, "in_progress"),
            _first(conn, "completed"),
            _first_report(conn, ("submit", "sign")),
            _first_report(conn, ("sign",)),
        )
    )
    query = (
        query.outerjoin(ris_exam_history, ris_exam_history.c.exam_fk == e.id)
        .where(filters.where(), e.status.not_in(("cancelled", "no_show")))
        .group_by(e.id, e.department, e.modality, EMERGENCY, ris_orders.c.created_at)
    )
    routine, emergency = "routine", "emergency"
    return [
        (row[0], row[1], emergency if row[2] else routine, *row[3:])
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
    times: Iterable[ExamTimes], found: Rules, step: str, key: Callable[[ExamTimes], Any]
) -> dict[Any, Tally]:
    """One step's durations per row key, each measured as its department's target says
    (the target and clock of a department and priority looked up once)."""
    began_at, ended_at = (AT[m] for m in STEP_MOMENTS[step])
    rows: dict[Any, Tally] = {}
    resolved: dict[tuple[str, str], tuple[Target | None, WorkingHours | None]] = {}
    for exam in times:
        began, ended = exam[began_at], exam[ended_at]
        if began is None or ended is None:
            continue
        who = (exam[DEPARTMENT], exam[PRIORITY])
        if who not in resolved:
            target = found.target(who[0], who[1], step)
            resolved[who] = (target, found.clock_for(who[0], target))
        target, hours = resolved[who]
        if hours is None:
            seconds = max(round(ended - began, 3), 0.0)
        else:
            seconds = hours.duration(_moment(began), _moment(ended)).total_seconds()
        group = key(exam)
        found_tally = rows.get(group)
        if found_tally is None:
            found_tally = rows[group] = Tally()
        found_tally.add(seconds / 60, target, hours is not None)
    return rows


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(round(seconds, 3), UTC)


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
        per = tally(times, found, step, lambda exam: (exam[PRIORITY],))
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
        at = DEPARTMENT if dimension == "department" else MODALITY
        per = tally(times, rules(conn), "report", lambda exam: (exam[at], exam[PRIORITY]))
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
