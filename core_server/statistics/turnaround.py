"""Turnaround (时间质控): how long each step of an exam took, medians and p90 against the
department's targets (:mod:`.targets`), by step, department and modality, emergency apart.

The moments of an exam: **ordered** (the order's ``created_at``), **arrived**, **started**
and **completed** (the first time the RIS history reached each status), **first report**
(the first submit or sign of its report) and **signed** (its first signature: an amendment
signed again later does not make the first turnaround longer). A step counts only for exams
that reached both of its moments. All moments of the figure's exams come from one query, over
the facts table where they are kept per exam (:mod:`.facts`).

Percentiles interpolate between the two nearest durations (as PostgreSQL's
``percentile_cont`` and a spreadsheet's PERCENTILE do): p90 of 10, 20, 30, 40, 50 is 46.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Connection, or_, select

from core_server import i18n
from core_server.ris.tables import ris_exams, ris_orders
from core_server.statistics.exams import drill_condition
from core_server.statistics.facts import MOMENT_COLUMNS, epoch, statistics_exam_facts
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


@dataclass(frozen=True)
class Moments:
    """The exams of a figure: each one's group (department, modality, priority) as a code
    into ``groups``, and its moments as epoch seconds (a row per exam, a column per moment
    in the order of MOMENTS, NaN where it never got there)."""

    groups: list[tuple[str, str, str]]
    codes: np.ndarray
    at: np.ndarray


def exam_times(conn: Connection, filters: Filters) -> Moments:
    """Every exam of the filter with its moments: one query over the exams and their row in
    the facts table (:mod:`.facts`, where the moments derived from the histories are kept)."""
    e = ris_exams.c
    f = statistics_exam_facts.c
    query = exams_joined(
        select(
            e.department,
            e.modality,
            EMERGENCY.label("emergency"),
            epoch(conn, ris_orders.c.created_at),
            *(f[name] for name in MOMENT_COLUMNS),
        )
    ).outerjoin(statistics_exam_facts, f.exam_id == e.id)
    query = query.where(filters.where(), e.status.not_in(("cancelled", "no_show")))
    index: dict[tuple[str, str, str], int] = {}
    codes: list[int] = []
    at: list[Any] = []
    for row in conn.execute(query):
        group = (row[0], row[1], "emergency" if row[2] else "routine")
        codes.append(index.setdefault(group, len(index)))
        at.append(row[3:])
    moments = np.array(at, dtype=float).reshape(len(at), len(MOMENTS))  # None -> NaN
    return Moments(list(index), np.array(codes, dtype=int), moments)


def percentile(values: Any, share: float) -> float | None:
    """The ``share`` (0..1) percentile of ``values``, interpolated; None for no values."""
    if len(values) == 0:
        return None
    return float(np.percentile(np.asarray(values, dtype=float), share * 100))


@dataclass
class Tally:
    """The durations (minutes) of one row, and how many met their target."""

    parts: list[np.ndarray] = field(default_factory=list)
    met: int = 0
    missed: int = 0
    targets: set[int] = field(default_factory=set)
    working: bool = False

    def add(self, minutes: Any, target: Target | None, working: bool) -> None:
        """One duration or an array of them, all under ``target``."""
        values = np.atleast_1d(np.asarray(minutes, dtype=float))
        self.parts.append(values)
        if target is not None:
            self.targets.add(target.minutes)
            met = int(np.count_nonzero(values <= target.minutes))
            self.met += met
            self.missed += len(values) - met
        self.working = self.working or working

    def row(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 1)

        minutes = np.concatenate(self.parts) if self.parts else np.array([])
        return {
            "exams": len(minutes),
            "median": rounded(percentile(minutes, 0.5)),
            "p90": rounded(percentile(minutes, 0.9)),
            # One target, or the strictest when the row mixes departments with their own.
            "target": min(self.targets) if self.targets else None,
            "met": self.met,
            "missed": self.missed,
            "within": ratio(self.met, self.met + self.missed),
            "clock": "working" if self.working else "calendar",
        }


Group = tuple[str, str, str]  # department, modality, priority


def tally(
    moments: Moments, found: Rules, step: str, key: Callable[[Group], Any]
) -> dict[Any, Tally]:
    """One step's durations per row key (of an exam's group), each measured as its
    department's target for its priority says: calendar time as one array subtraction per
    group, working hours exam by exam."""
    began_at, ended_at = (MOMENTS.index(m) for m in STEP_MOMENTS[step])
    seconds = moments.at[:, ended_at] - moments.at[:, began_at]
    reached = ~np.isnan(seconds)
    rows: dict[Any, Tally] = {}
    for code, group in enumerate(moments.groups):
        chosen = reached & (moments.codes == code)
        if not chosen.any():
            continue
        department, _modality, priority = group
        target = found.target(department, priority, step)
        hours = found.clock_for(department, target)
        if hours is None:
            minutes = np.maximum(np.round(seconds[chosen], 3), 0.0) / 60
        else:
            pairs = moments.at[chosen][:, [began_at, ended_at]]
            minutes = np.array(
                [hours.duration(_moment(a), _moment(b)).total_seconds() / 60 for a, b in pairs]
            )
        rows.setdefault(key(group), Tally()).add(minutes, target, hours is not None)
    return rows


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(round(float(seconds), 3), UTC)


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
        per = tally(times, found, step, lambda group: (group[2],))
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
        at = 0 if dimension == "department" else 1
        per = tally(times, rules(conn), "report", lambda group: (group[at], group[2]))
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
