"""Disc use (光盘): the disc jobs of the range, by day and by kiosk: jobs done, failed and
cancelled, discs burned and what they earned (the fee per disc fixed on each job when it was
queued). A job counts on the hospital day it ended (done, failed or cancelled); one still
under way is not counted yet. The range is the only filter: a job may hold several exams."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, select

from core_server import clock
from core_server.discs.tables import disc_jobs
from core_server.statistics.figures import Chart, Column, Figure, figure
from core_server.statistics.filters import Filters

ENDED = ("done", "failed", "cancelled")
_COLUMNS = (
    Column("done", "statistics.discs.column.done"),
    Column("failed", "statistics.discs.column.failed"),
    Column("cancelled", "statistics.discs.column.cancelled"),
    Column("discs", "statistics.discs.column.discs"),
    Column("fees", "statistics.discs.column.fees", "money"),
)


def _ended_jobs(conn: Connection, filters: Filters) -> list[Any]:
    start, end = filters.bounds
    return list(
        conn.execute(
            select(
                disc_jobs.c.state,
                disc_jobs.c.updated_at,
                disc_jobs.c.holder,
                disc_jobs.c.device,
                disc_jobs.c.discs_done,
                disc_jobs.c.fee_fen,
            ).where(
                disc_jobs.c.state.in_(ENDED),
                disc_jobs.c.updated_at >= start,
                disc_jobs.c.updated_at < end,
            )
        ).all()
    )


def _tally(rows: list[Any], key: Any) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"done": 0, "failed": 0, "cancelled": 0, "discs": 0, "fen": 0}
    )
    for row in rows:
        entry = table[key(row)]
        entry[row.state] += 1
        if row.state == "done":
            entry["discs"] += row.discs_done
            entry["fen"] += row.fee_fen
    return table


def _rows(table: dict[str, dict[str, Any]], label: str) -> list[dict[str, Any]]:
    return [
        {
            label: name,
            **{k: v for k, v in e.items() if k != "fen"},
            "fees": round(e["fen"] / 100, 2),
        }
        for name, e in table.items()
    ]


def _totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    totals: dict[str, Any] = {
        k: sum(r[k] for r in rows) for k in ("done", "failed", "cancelled", "discs")
    }
    totals["fees"] = round(sum(r["fees"] for r in rows), 2)
    return totals


@figure("discs.by_day", "statistics.figure.discs_by_day", "volume")
def by_day(conn: Connection, filters: Filters) -> Figure:
    jobs = _ended_jobs(conn, filters)
    table = _tally(jobs, lambda row: clock.local(row.updated_at).date().isoformat())
    days = {day.isoformat(): table.get(day.isoformat()) for day in filters.days}
    empty = {"done": 0, "failed": 0, "cancelled": 0, "discs": 0, "fen": 0}
    rows = _rows({day: entry or dict(empty) for day, entry in days.items()}, "day")
    return Figure(
        name="discs.by_day",
        title="statistics.figure.discs_by_day",
        columns=(Column("day", "statistics.column.day", "text"), *_COLUMNS),
        rows=rows,
        chart=Chart("bar", "day", ("discs",)),
        totals=_totals(rows),
        note="statistics.discs.note",
    )


@figure("discs.by_kiosk", "statistics.figure.discs_by_kiosk", "volume")
def by_kiosk(conn: Connection, filters: Filters) -> Figure:
    jobs = _ended_jobs(conn, filters)
    table = _tally(jobs, lambda row: row.holder or row.device or "-")
    rows = sorted(_rows(table, "kiosk"), key=lambda row: (-row["discs"], row["kiosk"]))
    return Figure(
        name="discs.by_kiosk",
        title="statistics.figure.discs_by_kiosk",
        columns=(Column("kiosk", "statistics.discs.column.kiosk", "text"), *_COLUMNS),
        rows=rows,
        chart=Chart("bar", "kiosk", ("discs",)),
        totals=_totals(rows),
        note="statistics.discs.note",
    )
