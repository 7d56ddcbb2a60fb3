"""Overdue exams, now (超时未完成): exams whose current step has run past its target, e.g.
completed but not reported within 30 min for an emergency. The step an exam waits in is its
status's next one; it has waited since its status changed (``status_at``), counted in the
department's working hours where its target says so.

Scheduled exams (the patient has not come) and finished ones are never overdue.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, select

from core_server import clock, names
from core_server.ris.tables import ris_exams, ris_orders, ris_patients
from core_server.statistics.targets import rules
from core_server.statistics.turnaround import EMERGENCY, priority_of

# The step an exam in each status waits in.
WAITING = {"arrived": "start", "in_progress": "exam", "completed": "report", "reported": "sign"}
LIMIT = 500


def overdue(
    conn: Connection, now: datetime | None = None, department: str = "", modality: str = ""
) -> dict[str, Any]:
    """``{"at", "total", "exams": [...]}``, most overdue first (at most :data:`LIMIT`)."""
    now = now or clock.now()
    found = rules(conn)
    shortest = {
        step: min((t.minutes for t in found.targets.values() if t.step == step), default=None)
        for step in WAITING.values()
    }
    waiting = [status for status, step in WAITING.items() if shortest[step] is not None]
    if not waiting:
        return {"at": clock.iso(now), "total": 0, "exams": []}
    # Nothing waited less than the shortest target of its step (working time is never more
    # than calendar time): the database leaves the rest out.
    e = ris_exams.c
    terms: list[ColumnElement[bool]] = [e.status.in_(waiting)]
    if department:
        terms.append(e.department == department)
    if modality:
        terms.append(e.modality == modality)
    earliest = now - timedelta(minutes=min(m for m in shortest.values() if m is not None))
    terms.append(e.status_at <= earliest)
    rows = conn.execute(
        select(
            e.id,
            e.accession_number,
            e.procedure_name,
            e.modality,
            e.department,
            e.room,
            e.status,
            e.status_at,
            EMERGENCY.label("emergency"),
            ris_patients.c.patient_id,
            ris_patients.c.name,
        )
        .select_from(
            ris_exams.join(ris_orders, ris_orders.c.id == e.order_fk).join(
                ris_patients, ris_patients.c.id == e.patient_fk
            )
        )
        .where(*terms)
    ).all()
    late = []
    for row in rows:
        step = WAITING[row.status]
        priority = priority_of(bool(row.emergency))
        target = found.target(row.department, priority, step)
        if target is None:
            continue
        waited = found.measure(row.department, target, row.status_at, now).total_seconds() / 60
        if waited > target.minutes:
            late.append(_exam(row, step, priority, waited, target.minutes, target.working_hours))
    late.sort(key=lambda x: (-x["over_minutes"], x["accession_number"]))
    return {"at": clock.iso(now), "total": len(late), "exams": late[:LIMIT]}


def _exam(
    row: Any, step: str, priority: str, waited: float, target: int, working: bool
) -> dict[str, Any]:
    return {
        "exam_id": row.id,
        "accession_number": row.accession_number,
        "patient_id": row.patient_id,
        "patient_name": names.display(row.name),
        "procedure": row.procedure_name,
        "modality": row.modality,
        "department": row.department,
        "room": row.room,
        "status": row.status,
        "step": step,
        "priority": priority,
        "since": clock.iso(row.status_at),
        "waited_minutes": round(waited, 1),
        "target_minutes": target,
        "over_minutes": round(waited - target, 1),
        "working_hours": working,
    }
