"""Turnaround targets (时限) per department and priority, and each department's working hours.

A target says how long one step of an exam may take (``report``: completed to first report,
30 min for an emergency) and whether it counts in the department's working hours. The most
specific target wins: this department and priority, this department any priority, every
department this priority, every department any priority (department ``""`` and priority
``""`` mean "any"). Migration ``0070_statistics_targets`` creates the tables and the defaults
the issue names (emergency reports within 30 min, routine within 24 h, critical values
acknowledged within 15 min); an administrator edits them (``PUT /api/statistics/targets``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, Column, Connection, Integer, String, Table, delete, insert, select

from core_server.db import metadata
from core_server.refusals import Invalid
from core_server.statistics.workhours import WorkingHours

# The steps of an exam, each from one moment to the next (see turnaround.MOMENTS), and the
# critical-value loop (flag to acknowledgement).
STEPS = ("arrival", "start", "exam", "report", "sign", "report_total", "total", "critical_ack")
PRIORITIES = ("emergency", "routine")
MAX_MINUTES = 60 * 24 * 31  # a month: anything longer is a typing slip

statistics_targets = Table(
    "statistics_targets",
    metadata,
    Column("department", String(32), primary_key=True),  # "" = every department
    Column("priority", String(16), primary_key=True),  # emergency, routine, "" = any
    Column("step", String(16), primary_key=True),
    Column("minutes", Integer, nullable=False),
    Column("working_hours", Boolean, nullable=False),
)

statistics_working_hours = Table(
    "statistics_working_hours",
    metadata,
    Column("department", String(32), primary_key=True),
    Column("rule", String(255), nullable=False),  # see workhours.WorkingHours.parse
)


@dataclass(frozen=True)
class Target:
    department: str
    priority: str
    step: str
    minutes: int
    working_hours: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "department": self.department,
            "priority": self.priority,
            "step": self.step,
            "minutes": self.minutes,
            "working_hours": self.working_hours,
        }


@dataclass(frozen=True)
class Rules:
    """Every target and working-hours rule, read once per figure."""

    targets: dict[tuple[str, str, str], Target]
    hours: dict[str, WorkingHours]

    def target(self, department: str, priority: str, step: str) -> Target | None:
        for key in (
            (department, priority, step),
            (department, "", step),
            ("", priority, step),
            ("", "", step),
        ):
            found = self.targets.get(key)
            if found is not None:
                return found
        return None

    def clock_for(self, department: str, target: Target | None) -> WorkingHours | None:
        """The working hours a duration counts in, or None for the calendar clock."""
        if target is None or not target.working_hours:
            return None
        return self.hours.get(department)

    def measure(
        self, department: str, target: Target | None, start: datetime, end: datetime
    ) -> timedelta:
        hours = self.clock_for(department, target)
        return hours.duration(start, end) if hours is not None else max(end - start, timedelta(0))


def rules(conn: Connection) -> Rules:
    targets = {
        (r.department, r.priority, r.step): Target(
            r.department, r.priority, r.step, r.minutes, r.working_hours
        )
        for r in conn.execute(select(statistics_targets))
    }
    hours = {
        r.department: WorkingHours.parse(r.rule)
        for r in conn.execute(select(statistics_working_hours))
    }
    return Rules(targets, hours)


def listing(conn: Connection) -> dict[str, Any]:
    """What ``GET /api/statistics/targets`` answers (and ``PUT`` takes)."""
    found = rules(conn)
    return {
        "steps": list(STEPS),
        "priorities": list(PRIORITIES),
        "targets": [
            t.as_dict()
            for t in sorted(
                found.targets.values(), key=lambda t: (t.department, t.step, t.priority)
            )
        ],
        "working_hours": [
            {"department": d, "rule": h.text()} for d, h in sorted(found.hours.items())
        ],
    }


def parse_targets(items: Iterable[Mapping[str, Any]]) -> list[Target]:
    """Targets from a request body; a bad one is a refusal naming it."""
    parsed: dict[tuple[str, str, str], Target] = {}
    for item in items:
        department = str(item.get("department", "")).strip()
        priority = str(item.get("priority", "")).strip()
        step = str(item.get("step", "")).strip()
        minutes = item.get("minutes")
        if step not in STEPS:
            raise Invalid("statistics.targets.bad_step", step=step)
        if priority and priority not in PRIORITIES:
            raise Invalid("statistics.targets.bad_priority", priority=priority)
        if (
            isinstance(minutes, bool)
            or not isinstance(minutes, int)
            or not 0 < minutes <= MAX_MINUTES
        ):
            raise Invalid("statistics.targets.bad_minutes", step=step, minutes=str(minutes))
        if len(department) > 32:
            raise Invalid("statistics.targets.bad_department", department=department)
        key = (department, priority, step)
        if key in parsed:
            raise Invalid("statistics.targets.twice", department=department, step=step)
        parsed[key] = Target(department, priority, step, minutes, bool(item.get("working_hours")))
    return list(parsed.values())


def parse_hours(items: Iterable[Mapping[str, Any]]) -> dict[str, WorkingHours]:
    hours: dict[str, WorkingHours] = {}
    for item in items:
        department = str(item.get("department", "")).strip()
        if not department or len(department) > 32 or department in hours:
            raise Invalid("statistics.targets.bad_department", department=department)
        hours[department] = WorkingHours.parse(str(item.get("rule", "")))
    return hours


def replace(conn: Connection, targets: list[Target], hours: dict[str, WorkingHours]) -> None:
    """The whole set at once (the admin page saves its table), in the caller's transaction."""
    conn.execute(delete(statistics_targets))
    conn.execute(delete(statistics_working_hours))
    if targets:
        conn.execute(insert(statistics_targets), [t.as_dict() for t in targets])
    if hours:
        conn.execute(
            insert(statistics_working_hours),
            [{"department": d, "rule": h.text()} for d, h in hours.items()],
        )
