"""The release right on an exam ("may be released"): a doctor or the administrator can hold an
exam back, with a reason; a held exam is neither burned nor shown on the cloud film.

Setting and clearing are audited in the same transaction (``discs.release.hold`` and
``discs.release.clear``, target ``exam:<id>``), so the audit trail is the hold's history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select

from core_server import clock, db
from core_server.auth import record_audit
from core_server.discs.cloud_tables import disc_release_holds
from core_server.refusals import Invalid, NotFound
from core_server.ris.tables import ris_exams

# Who may hold an exam back or release it again.
RELEASERS = ("reporting_doctor", "reviewing_doctor", "department_head", "admin")


@dataclass(frozen=True)
class Hold:
    exam_id: int
    reason: str
    set_by: str
    set_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "exam_id": self.exam_id,
            "released": False,
            "reason": self.reason,
            "set_by": self.set_by,
            "set_at": clock.iso(self.set_at),
        }


def released(exam_id: int) -> dict[str, Any]:
    """The answer for an exam without a hold."""
    return {"exam_id": exam_id, "released": True, "reason": "", "set_by": "", "set_at": None}


def holds(conn: Connection, exam_ids: list[int]) -> dict[int, Hold]:
    """The holds among ``exam_ids``."""
    if not exam_ids:
        return {}
    rows = conn.execute(
        select(disc_release_holds).where(disc_release_holds.c.exam_id.in_(exam_ids))
    )
    return {r.exam_id: Hold(r.exam_id, r.reason, r.set_by, r.set_at) for r in rows}


def hold_of(engine: Engine, exam_id: int) -> Hold | None:
    with db.read(engine) as conn:
        _exam_exists(conn, exam_id)
        return holds(conn, [exam_id]).get(exam_id)


def _exam_exists(conn: Connection, exam_id: int) -> None:
    if conn.execute(select(ris_exams.c.id).where(ris_exams.c.id == exam_id)).first() is None:
        raise NotFound("discs.release.exam_unknown", exam_id=exam_id)


def hold(engine: Engine, exam_id: int, reason: str, *, by: str, address: str = "") -> Hold:
    """Hold the exam back (again: the reason is replaced)."""
    reason = reason.strip()
    if not reason:
        raise Invalid("discs.release.reason_needed")
    now = clock.now()
    with db.write(engine) as conn:
        _exam_exists(conn, exam_id)
        conn.execute(delete(disc_release_holds).where(disc_release_holds.c.exam_id == exam_id))
        conn.execute(
            insert(disc_release_holds).values(exam_id=exam_id, reason=reason, set_by=by, set_at=now)
        )
        record_audit(
            conn,
            username=by,
            action="discs.release.hold",
            target=f"exam:{exam_id}",
            detail={"reason": reason},
            address=address,
        )
    return Hold(exam_id, reason, by, now)


def release(engine: Engine, exam_id: int, *, by: str, address: str = "") -> bool:
    """Lift the hold; False if there was none (nothing is recorded then)."""
    with db.write(engine) as conn:
        _exam_exists(conn, exam_id)
        gone = conn.execute(
            delete(disc_release_holds).where(disc_release_holds.c.exam_id == exam_id)
        ).rowcount
        if gone:
            record_audit(
                conn,
                username=by,
                action="discs.release.clear",
                target=f"exam:{exam_id}",
                address=address,
            )
    return bool(gone)
