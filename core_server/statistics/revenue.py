"""Revenue (收入): what the department's exams earned, by exam item, department, modality,
referring department and day. An exam earns its fee (``ris_exams.fee_fen``: its catalogue
item's price when it was created or its item changed, or what a registrar set), counted on the
day of its exam time; cancelled and no-show exams earn nothing and are not counted. Every
other exam counts, performed or not yet (the fee is charged at registration, 先缴费后检查).

Money is summed in integer fen in SQL and shown in yuan with two decimals (``kind="money"``).
Discs (issue 12) and film (issue 20) will add their own figures: see docs/statistics.md."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from core_server import clock
from core_server.ris.tables import ris_departments, ris_exams, ris_procedures
from core_server.statistics.figures import Chart, Column, Figure, figure
from core_server.statistics.filters import DIMENSIONS, EXAM_TIME, Filters, exams_joined

NOT_CHARGED = ("cancelled", "no_show")

_MONEY = (
    Column("exams", "statistics.revenue.column.exams"),
    Column("revenue", "statistics.revenue.column.revenue", "money"),
    Column("average", "statistics.revenue.column.average", "money"),
)
NOTE = "statistics.revenue.note"


def yuan(fen: int) -> float:
    return round(fen / 100, 2)


def _row(exams: int, fen: int) -> dict[str, Any]:
    return {
        "exams": exams,
        "revenue": yuan(fen),
        "average": yuan(round(fen / exams)) if exams else None,
    }


def _charged() -> Any:
    return ris_exams.c.status.not_in(NOT_CHARGED)


def _grouped(conn: Connection, filters: Filters, key: Any) -> list[tuple[str, int, int]]:
    """``(value, exams, fen)`` per value of ``key``, the highest earner first."""
    rows = conn.execute(
        exams_joined(
            select(
                key.label("key"),
                func.count().label("n"),
                func.coalesce(func.sum(ris_exams.c.fee_fen), 0).label("fen"),
            )
        )
        .where(filters.where(), _charged())
        .group_by(key)
    ).all()
    found = [(row.key or "", int(row.n), int(row.fen)) for row in rows]
    return sorted(found, key=lambda r: (-r[2], -r[1], r[0]))


def _totals(found: list[tuple[str, int, int]]) -> dict[str, Any]:
    return _row(sum(r[1] for r in found), sum(r[2] for r in found))


def _by(
    conn: Connection, filters: Filters, dimension: str, name: str, title: str, label: str
) -> Figure:
    found = _grouped(conn, filters, DIMENSIONS[dimension])
    return Figure(
        name=name,
        title=title,
        columns=(Column(dimension, label, "text"), *_MONEY),
        rows=[{dimension: key, **_row(n, fen)} for key, n, fen in found],
        chart=Chart("bar", dimension, ("revenue",)),
        totals=_totals(found),
        drill=[{dimension: key} for key, _, _ in found],
        note=NOTE,
    )


@figure("revenue.by_procedure", "statistics.revenue.figure.by_procedure", "revenue")
def by_procedure(conn: Connection, filters: Filters) -> Figure:
    """Per exam item, with its catalogue name and its present price."""
    found = _grouped(conn, filters, ris_exams.c.procedure_code)
    items = {r.code: r for r in conn.execute(select(ris_procedures))}
    zh_names = {code: item.name_zh for code, item in items.items()}
    rows = [
        {
            "procedure_code": code,
            "procedure": zh_names.get(code, ""),
            "price": yuan(items[code].price_fen) if code in items else None,
            **_row(n, fen),
        }
        for code, n, fen in found
    ]
    return Figure(
        name="revenue.by_procedure",
        title="statistics.revenue.figure.by_procedure",
        columns=(
            Column("procedure_code", "statistics.revenue.column.procedure_code", "text"),
            Column("procedure", "statistics.revenue.column.procedure", "text"),
            Column("price", "statistics.revenue.column.price", "money"),
            *_MONEY,
        ),
        rows=rows,
        chart=Chart("bar", "procedure", ("revenue",)),
        totals=_totals(found),
        drill=[{"procedure_code": code} for code, _, _ in found],
        note=NOTE,
    )


@figure("revenue.by_department", "statistics.revenue.figure.by_department", "revenue")
def by_department(conn: Connection, filters: Filters) -> Figure:
    shown = by_dimension(conn, filters, "department")
    names = {r.code: r.name_zh for r in conn.execute(select(ris_departments))}
    for row in shown.rows:
        row["department_name"] = names.get(row["department"], "")
    columns = (
        shown.columns[0],
        Column("department_name", "statistics.revenue.column.department_name", "text"),
        *shown.columns[1:],
    )
    chart = Chart("bar", "department_name", ("revenue",))
    return replace(shown, columns=columns, chart=chart)


def by_dimension(conn: Connection, filters: Filters, dimension: str) -> Figure:
    return _by(
        conn,
        filters,
        dimension,
        f"revenue.by_{dimension}",
        f"statistics.revenue.figure.by_{dimension}",
        f"statistics.revenue.column.{dimension}",
    )


@figure("revenue.by_modality", "statistics.revenue.figure.by_modality", "revenue")
def by_modality(conn: Connection, filters: Filters) -> Figure:
    return by_dimension(conn, filters, "modality")


@figure(
    "revenue.by_referring_department",
    "statistics.revenue.figure.by_referring_department",
    "revenue",
)
def by_referring_department(conn: Connection, filters: Filters) -> Figure:
    return by_dimension(conn, filters, "referring_department")


@figure("revenue.by_day", "statistics.revenue.figure.by_day", "revenue")
def by_day(conn: Connection, filters: Filters) -> Figure:
    """Every day of the range, also those that earned nothing."""
    exams: Counter[str] = Counter()
    fen: Counter[str] = Counter()
    for at, n, earned in _per_hour(conn, filters):
        day = clock.local(at).date().isoformat()
        exams[day] += n
        fen[day] += earned
    days = [day.isoformat() for day in filters.days]
    return Figure(
        name="revenue.by_day",
        title="statistics.revenue.figure.by_day",
        columns=(Column("day", "statistics.revenue.column.day", "text"), *_MONEY),
        rows=[{"day": day, **_row(exams[day], fen[day])} for day in days],
        chart=Chart("line", "day", ("revenue",)),
        totals=_row(sum(exams.values()), sum(fen.values())),
        drill=[{"day": day} for day in days],
        note=NOTE,
    )


def _per_hour(conn: Connection, filters: Filters) -> list[tuple[datetime, int, int]]:
    """``(UTC hour, exams, fen)``: SQL has no time zones on SQLite, so the local day is found
    in Python, from at most 24 groups a day rather than every exam (a year: 8,760 rows instead
    of 365,000). Exact for a hospital zone whose offset is whole hours (all of China); any
    other zone is grouped exam by exam."""
    offset = clock.local(clock.now()).utcoffset() or timedelta(0)
    if offset % timedelta(hours=1):
        rows = conn.execute(
            exams_joined(select(EXAM_TIME, ris_exams.c.fee_fen)).where(filters.where(), _charged())
        )
        return [(at, 1, int(fee)) for at, fee in rows]
    if conn.dialect.name == "sqlite":  # stored as 'YYYY-MM-DD HH:MM:SS...' in UTC
        hour: Any = func.substr(EXAM_TIME, 1, 13)
    else:
        hour = func.to_char(func.timezone("UTC", EXAM_TIME), "YYYY-MM-DD HH24")
    rows = conn.execute(
        exams_joined(select(hour.label("hour"), func.count(), func.sum(ris_exams.c.fee_fen)))
        .where(filters.where(), _charged())
        .group_by(hour)
    )
    return [
        (datetime.strptime(h, "%Y-%m-%d %H").replace(tzinfo=UTC), int(n), int(f or 0))
        for h, n, f in rows
    ]
