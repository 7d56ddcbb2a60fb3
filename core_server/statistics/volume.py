"""How many exams: per hospital day, and per modality. An exam counts as *done* once it was
performed (completed, reported or verified); cancelled and no-show exams are counted apart
and never as done."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from core_server import clock
from core_server.ris.tables import ris_exams
from core_server.statistics.figures import Chart, Column, Figure, figure
from core_server.statistics.filters import EXAM_TIME, Filters, exams_joined

DONE = ("completed", "reported", "verified")
NOT_DONE = ("cancelled", "no_show")


def _counts(conn: Connection, filters: Filters, key: Any) -> list[Any]:
    return list(
        conn.execute(
            exams_joined(select(key.label("key"), ris_exams.c.status, func.count().label("n")))
            .where(filters.where())
            .group_by(key, ris_exams.c.status)
        ).all()
    )


def _per_hour(conn: Connection, filters: Filters) -> list[tuple[datetime, str, int]]:
    """``(UTC hour, status, exams)``: SQL has no time zones on SQLite, so the local day is
    found in Python from at most 24 groups a day rather than from every exam (a year: 1.7 s
    -> well under 0.5 s); exact for a zone whose offset is whole hours (all of China), any
    other zone is counted exam by exam."""
    offset = clock.local(clock.now()).utcoffset() or timedelta(0)
    if offset % timedelta(hours=1):
        rows = conn.execute(
            exams_joined(select(EXAM_TIME, ris_exams.c.status)).where(filters.where())
        )
        return [(at, status, 1) for at, status in rows]
    if conn.dialect.name == "sqlite":  # stored as 'YYYY-MM-DD HH:MM:SS...' in UTC
        hour: Any = func.substr(EXAM_TIME, 1, 13)
    else:
        hour = func.to_char(func.timezone("UTC", EXAM_TIME), "YYYY-MM-DD HH24")
    rows = conn.execute(
        exams_joined(select(hour.label("hour"), ris_exams.c.status, func.count()))
        .where(filters.where())
        .group_by(hour, ris_exams.c.status)
    )
    return [
        (datetime.strptime(h, "%Y-%m-%d %H").replace(tzinfo=UTC), status, int(n))
        for h, status, n in rows
    ]


def _row(counts: Counter[str]) -> dict[str, Any]:
    total = sum(counts.values())
    done = sum(counts[s] for s in DONE)
    dropped = sum(counts[s] for s in NOT_DONE)
    return {"exams": total - dropped, "done": done, "cancelled": dropped}


_COLUMNS = (
    Column("exams", "statistics.column.exams"),
    Column("done", "statistics.column.done"),
    Column("cancelled", "statistics.column.cancelled"),
)


@figure("volume.by_day", "statistics.figure.volume_by_day", "volume")
def by_day(conn: Connection, filters: Filters) -> Figure:
    """Exams per day of the range (every day, also those with none)."""
    per_day: dict[str, Counter[str]] = {day.isoformat(): Counter() for day in filters.days}
    for at, status, n in _per_hour(conn, filters):  # the local day of each UTC hour
        per_day[clock.local(at).date().isoformat()][status] += n
    table = [{"day": day, **_row(counts)} for day, counts in per_day.items()]
    return Figure(
        name="volume.by_day",
        title="statistics.figure.volume_by_day",
        columns=(Column("day", "statistics.column.day", "text"), *_COLUMNS),
        rows=table,
        chart=Chart("line", "day", ("exams", "done")),
        totals=_totals(table),
        drill=[{"day": row["day"]} for row in table],
        note="statistics.note.done",
    )


@figure("volume.by_modality", "statistics.figure.volume_by_modality", "volume")
def by_modality(conn: Connection, filters: Filters) -> Figure:
    per: dict[str, Counter[str]] = {}
    for key, status, n in _counts(conn, filters, ris_exams.c.modality):
        per.setdefault(key, Counter())[status] += n
    table = sorted(
        ({"modality": key, **_row(counts)} for key, counts in per.items()),
        key=lambda row: (-row["exams"], row["modality"]),
    )
    return Figure(
        name="volume.by_modality",
        title="statistics.figure.volume_by_modality",
        columns=(Column("modality", "statistics.column.modality", "text"), *_COLUMNS),
        rows=table,
        chart=Chart("bar", "modality", ("exams", "done")),
        totals=_totals(table),
        drill=[{"modality": row["modality"]} for row in table],
        note="statistics.note.done",
    )


def _totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {key: sum(row[key] for row in rows) for key in ("exams", "done", "cancelled")}
