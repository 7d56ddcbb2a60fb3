"""Requests (申请) by referring department, and the exam items' details: how many exams were
asked for, how many were done, how many cancelled (or no-show). ``requests`` counts every exam
of the range, cancelled ones too: it is what the clinic asked for, and what the row's exam
list holds; *done* means performed (completed, reported or verified), as in the volume
figures."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select

from core_server.ris.tables import ris_exams, ris_orders
from core_server.statistics.exams import drill_condition
from core_server.statistics.figures import Chart, Column, Figure, figure
from core_server.statistics.filters import Filters, exams_joined
from core_server.statistics.volume import DONE, NOT_DONE

_COUNTS = (
    Column("requests", "statistics.workload.column.requests"),
    Column("done", "statistics.column.done"),
    Column("cancelled", "statistics.column.cancelled"),
)


def _counted(conn: Connection, filters: Filters, key: Any, *shown: Any) -> list[dict[str, Any]]:
    """Per ``key`` (grouped in SQL): all exams, performed ones, cancelled and no-show ones;
    ``shown``: aggregates shown beside the key (an item's name)."""
    status = ris_exams.c.status

    def count_of(statuses: tuple[str, ...]) -> Any:
        return func.count().filter(status.in_(statuses))

    query = (
        exams_joined(
            select(
                key,
                *shown,
                func.count().label("requests"),
                count_of(DONE).label("done"),
                count_of(NOT_DONE).label("cancelled"),
            )
        )
        .where(filters.where())
        .group_by(key)
    )
    return [dict(m) for m in conn.execute(query).mappings()]


def _totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {c.key: sum(row[c.key] for row in rows) for c in _COUNTS}


@drill_condition("referring")
def _referring(value: str) -> ColumnElement[bool]:
    """A referring department, also the empty one (orders that named none)."""
    return ris_orders.c.referring_department == value


@figure("requests.by_referring", "statistics.workload.figure.requests_by_referring", "volume")
def by_referring(conn: Connection, filters: Filters) -> Figure:
    key = ris_orders.c.referring_department.label("referring_department")
    rows = _counted(conn, filters, key)
    rows.sort(key=lambda row: (-row["requests"], row["referring_department"]))
    return Figure(
        name="requests.by_referring",
        title="statistics.workload.figure.requests_by_referring",
        columns=(
            Column("referring_department", "statistics.dimension.referring_department", "text"),
            *_COUNTS,
        ),
        rows=rows,
        chart=Chart("bar", "referring_department", ("requests", "done")),
        totals=_totals(rows),
        drill=[{"referring": row["referring_department"]} for row in rows],
        note="statistics.workload.note.requests",
    )


@figure("requests.by_item", "statistics.workload.figure.requests_by_item", "volume")
def by_item(conn: Connection, filters: Filters) -> Figure:
    code = ris_exams.c.procedure_code.label("procedure_code")
    rows = _counted(
        conn,
        filters,
        code,
        func.max(ris_exams.c.procedure_name).label("procedure_name"),
        func.max(ris_exams.c.modality).label("modality"),
    )
    rows.sort(key=lambda row: (-row["requests"], row["procedure_code"]))
    return Figure(
        name="requests.by_item",
        title="statistics.workload.figure.requests_by_item",
        columns=(
            Column("procedure_code", "statistics.workload.column.procedure_code", "text"),
            Column("procedure_name", "statistics.workload.column.procedure_name", "text"),
            Column("modality", "statistics.column.modality", "text"),
            *_COUNTS,
        ),
        rows=rows,
        chart=Chart("bar", "procedure_name", ("requests", "done")),
        totals=_totals(rows),
        drill=[{"procedure_code": row["procedure_code"]} for row in rows],
        note="statistics.workload.note.requests",
    )
