"""The people rows of the workload figures: who a username is, and one figure shape for
"one row per person" (the registrar's, the technician's, the doctors')."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Select, select

from core_server import names
from core_server.auth.tables import users
from core_server.statistics.figures import Chart, Column, Figure

# The people columns every workload figure starts with.
PERSON_COLUMNS = (
    Column("name", "statistics.workload.column.person", "text"),
    Column("username", "statistics.workload.column.username", "text"),
)


def display_names(conn: Connection, usernames: Iterable[str]) -> dict[str, str]:
    """``username -> 王建国``: the user's display name, else the username itself (a person
    no longer in the user list, or a machine such as ``mpps:CT01`` or ``hl7:HIS``)."""
    wanted = sorted(set(usernames))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), 500):  # an IN list of bounded size
        chunk = wanted[start : start + 500]
        rows = conn.execute(
            select(users.c.username, users.c.display_name).where(users.c.username.in_(chunk))
        )
        found.update({r.username: names.display(r.display_name) for r in rows if r.display_name})
    return {u: found.get(u) or u for u in wanted}


def person_figure(
    conn: Connection,
    query: Select[Any],
    *,
    name: str,
    title: str,
    columns: Sequence[Column],
    drill_key: str,
    note: str,
) -> Figure:
    """``query`` yields ``who`` and one value per column of ``columns`` (grouped in SQL);
    one row per person, most work first, each drilling to ``{drill_key: who}``."""
    found = [r for r in conn.execute(query).mappings() if r["who"]]
    shown = display_names(conn, (r["who"] for r in found))
    keys = [c.key for c in columns]
    rows = [
        {"name": shown[r["who"]], "username": r["who"], **{k: int(r[k] or 0) for k in keys}}
        for r in found
    ]
    rows.sort(key=lambda row: (-row[keys[0]], row["name"], row["username"]))
    return Figure(
        name=name,
        title=title,
        columns=(*PERSON_COLUMNS, *columns),
        rows=rows,
        chart=Chart("bar", "name", tuple(keys)),
        totals={k: sum(row[k] for row in rows) for k in keys},
        drill=[{drill_key: row["username"]} for row in rows],
        note=note,
    )
