"""The named cursors of the HL7 outboxes (exam status, results, critical values): how far each
has been read into its domain's history, moved in the transaction that queues the messages so
that a crash loses none and two processes never queue the same entries."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, select, update

from core_server import clock, db
from core_server.hl7.tables import hl7_status_cursor


def position(engine: Engine, name: str) -> int:
    """The last entry id read by cursor ``name`` (each is made by its migration)."""
    with db.read(engine) as conn:
        found = conn.execute(
            select(hl7_status_cursor.c.last_change_id).where(hl7_status_cursor.c.name == name)
        ).scalar()
    if found is None:
        raise RuntimeError(f"the HL7 cursor {name!r} is missing: migrate the database")
    return int(found)


def advance(conn: Connection, name: str, after: int, to: int) -> bool:
    """Move the cursor from ``after`` to ``to``; False when another process moved it first."""
    moved = conn.execute(
        update(hl7_status_cursor)
        .where(hl7_status_cursor.c.name == name, hl7_status_cursor.c.last_change_id == after)
        .values(last_change_id=to, updated_at=clock.now())
    ).rowcount
    return bool(moved == 1)
