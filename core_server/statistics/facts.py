"""The per-exam facts the workload and turnaround figures count by, kept in one table owned by
statistics (``statistics_exam_facts``, one row per exam) instead of derived from the RIS and
reporting histories with correlated subqueries on every request (a year of exams took 5-19 s
that way; grouping one row per exam takes well under a second).

A row holds who registered and who performed the exam (the rules of :mod:`.workload`) and
its moments as epoch seconds (the rules of :mod:`.turnaround`); :mod:`.changes` keeps beside
it how much review changed the exam's signed report. It is derived from the two
histories only, by the same SQL as before, so the counting rules are unchanged.

**Kept up to date by cursor**: both histories are outboxes written under their domain's write
lock (``db.serialize_writes``), so their ids become visible in increasing order and a cursor
on each (``statistics_facts_cursor``) finds every new step. :func:`catch_up` re-derives the
rows of the exams whose history moved since the cursor (a re-derivation reads the latest
state, so doing one twice is harmless) and moves the cursors; it runs right before a figure
is built (a figure is never stale) and on the service's ticker. A large backlog (a fresh
install of this migration on a year of data) is a :func:`rebuild`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from core_server import db
from core_server.db import metadata
from core_server.reporting.tables import reporting_history, reporting_reports
from core_server.ris.tables import ris_exam_history, ris_exams
from core_server.statistics import changes

log = logging.getLogger(__name__)

MOMENT_COLUMNS = ("arrived", "started", "completed", "first_report", "signed")

statistics_exam_facts = Table(
    "statistics_exam_facts",
    metadata,
    Column("exam_id", Integer, ForeignKey("ris_exams.id"), primary_key=True, autoincrement=False),
    Column("registrar", String(64), nullable=True),
    Column("technician", String(64), nullable=True),
    # Who took the newest step to completed (the image-quality figure's technician).
    Column("completed_by", String(64), nullable=True),
    # Epoch seconds (a float subtracts fast for a year of exams), NULL: never got there.
    *(Column(name, Float, nullable=True) for name in MOMENT_COLUMNS),
)

# How far each history has been read (the last id whose exam's row is up to date).
statistics_facts_cursor = Table(
    "statistics_facts_cursor",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("last_id", BigInteger, nullable=False),
)

RIS = "ris_exam_history"
REPORTING = "reporting_history"
_LOCK = 0x53544146  # "STAF": one catch-up at a time on PostgreSQL (SQLite: BEGIN IMMEDIATE)
CHUNK = 500  # exams re-derived per statement (an IN list of bounded size)
REBUILD_AFTER = 50_000  # history steps behind: re-derive every exam instead

h = ris_exam_history.c
# A name with a colon is a machine acting (hl7:HIS, mpps:CT01), never a person.
_MACHINE = case((h.username.contains(":"), 1), else_=0)


def epoch(conn: Connection, moment: Any) -> Any:
    """``moment`` as seconds since 1970 (a float)."""
    if conn.dialect.name == "sqlite":  # stored as ISO text in UTC
        return (func.julianday(moment) - 2440587.5) * 86400.0
    return cast(func.extract("epoch", moment), Float)


def _first_of(steps: ColumnElement[bool], *order: Any) -> Any:
    """The username of the exam's history step chosen by ``order`` among ``steps``."""
    return (
        select(h.username)
        .where(h.exam_fk == ris_exams.c.id, steps)
        .order_by(*order)
        .limit(1)
        .correlate(ris_exams)
        .scalar_subquery()
    )


# Who registered: who created the exam, or (an order from the HIS) who checked it in.
REGISTRAR = _first_of(or_(h.old_status.is_(None), h.new_status == "arrived"), _MACHINE, h.id)
# Who performed: who completed it, else who started it; a modality's MPPS only failing both.
TECHNICIAN = _first_of(
    or_(
        and_(h.old_status == "in_progress", h.new_status == "completed"),
        h.new_status == "in_progress",
    ),
    _MACHINE,
    case((h.new_status == "completed", 0), else_=1),
    h.id.desc(),
)
COMPLETED_BY = _first_of(h.new_status == "completed", h.id.desc())


def _first(conn: Connection, status: str) -> Any:
    """The first time the exam reached ``status`` (an MPPS restarted does not move it)."""
    return (
        select(epoch(conn, func.min(h.at)))
        .where(h.exam_fk == ris_exams.c.id, h.new_status == status)
        .scalar_subquery()
    )


def _first_report(conn: Connection, actions: tuple[str, ...]) -> Any:
    """The first time the exam's report took one of ``actions`` (a late amendment signed
    again does not move the first signature)."""
    rh = reporting_history.c
    return (
        select(epoch(conn, func.min(rh.at)))
        .select_from(
            reporting_history.join(reporting_reports, reporting_reports.c.id == rh.report_id)
        )
        .where(reporting_reports.c.exam_id == ris_exams.c.id, rh.action.in_(actions))
        .scalar_subquery()
    )


def _derived(conn: Connection) -> Any:
    """Each exam's facts derived from the histories (a SELECT over ``ris_exams``)."""
    return select(
        ris_exams.c.id,
        REGISTRAR,
        TECHNICIAN,
        COMPLETED_BY,
        _first(conn, "arrived"),
        _first(conn, "in_progress"),
        _first(conn, "completed"),
        _first_report(conn, ("submit", "sign")),
        _first_report(conn, ("sign",)),
    )


_COLUMNS = ["exam_id", "registrar", "technician", "completed_by", *MOMENT_COLUMNS]


def refresh(conn: Connection, exam_ids: Iterable[int]) -> int:
    """Re-derive the rows of ``exam_ids`` from the histories; how many."""
    wanted = sorted(set(exam_ids))
    f = statistics_exam_facts.c
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        conn.execute(delete(statistics_exam_facts).where(f.exam_id.in_(chunk)))
        conn.execute(
            insert(statistics_exam_facts).from_select(
                _COLUMNS, _derived(conn).where(ris_exams.c.id.in_(chunk))
            )
        )
        changes.refresh(conn, chunk)
    return len(wanted)


def _newest(conn: Connection) -> dict[str, int]:
    return {
        RIS: int(conn.execute(select(func.max(h.id))).scalar() or 0),
        REPORTING: int(conn.execute(select(func.max(reporting_history.c.id))).scalar() or 0),
    }


def _positions(conn: Connection) -> dict[str, int]:
    c = statistics_facts_cursor.c
    found = {r.name: int(r.last_id) for r in conn.execute(select(c.name, c.last_id))}
    return {RIS: found.get(RIS, 0), REPORTING: found.get(REPORTING, 0)}


def _move(conn: Connection, to: dict[str, int]) -> None:
    c = statistics_facts_cursor.c
    for name, last in to.items():
        moved = conn.execute(
            update(statistics_facts_cursor).where(c.name == name).values(last_id=last)
        ).rowcount
        if not moved:
            conn.execute(insert(statistics_facts_cursor).values(name=name, last_id=last))


def rebuild(conn: Connection, step: int = 20_000) -> int:
    """Every exam's row derived anew (a migration, the console, the bench, a large backlog);
    how many exams. The cursors move to where the histories were when it began: a step
    written meanwhile is found again by the next catch-up."""
    newest = _newest(conn)
    conn.execute(delete(statistics_exam_facts))
    conn.execute(delete(changes.statistics_report_changes))
    last = int(conn.execute(select(func.max(ris_exams.c.id))).scalar() or 0)
    for start in range(0, last, step):
        in_range = and_(ris_exams.c.id > start, ris_exams.c.id <= start + step)
        conn.execute(
            insert(statistics_exam_facts).from_select(_COLUMNS, _derived(conn).where(in_range))
        )
        changes.rebuild(conn, start, start + step)
    _move(conn, newest)
    return int(conn.execute(select(func.count()).select_from(statistics_exam_facts)).scalar() or 0)


def _moved_exams(conn: Connection, since: dict[str, int], to: dict[str, int]) -> set[int]:
    """The exams with a history step after ``since`` up to ``to``."""
    ris_ids = select(h.exam_fk).where(h.id > since[RIS], h.id <= to[RIS]).distinct()
    rh = reporting_history.c
    report_ids = (
        select(reporting_reports.c.exam_id)
        .select_from(
            reporting_history.join(reporting_reports, reporting_reports.c.id == rh.report_id)
        )
        .where(rh.id > since[REPORTING], rh.id <= to[REPORTING])
        .distinct()
    )
    return {int(i) for i in conn.execute(ris_ids).scalars()} | {
        int(i) for i in conn.execute(report_ids).scalars()
    }


def catch_up(engine: Engine) -> int:
    """Bring every exam's row up to date with the histories; how many exams were re-derived
    (0, after two small reads, when nothing moved)."""
    with db.read(engine) as conn:
        if _positions(conn) == _newest(conn):
            return 0
    with db.write(engine) as conn:
        db.serialize_writes(conn, _LOCK)
        since, newest = _positions(conn), _newest(conn)  # another catch-up may have run
        if since == newest:
            return 0
        behind = sum(newest[k] - since[k] for k in newest)
        if behind > REBUILD_AFTER:
            log.info("statistics facts: %d history steps behind, rebuilding", behind)
            return rebuild(conn)
        done = refresh(conn, _moved_exams(conn, since, newest))
        _move(conn, newest)
        return done
