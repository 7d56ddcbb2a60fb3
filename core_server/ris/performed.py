"""Modality Performed Procedure Steps: what the modality says it did (N-CREATE, N-SET).

The adapter hands over a flat mapping of what it read (keywords of the MPPS IOD; from the
Scheduled Step Attributes Sequence: AccessionNumber, RequestedProcedureID,
ScheduledProcedureStepID, StudyInstanceUID). A step is tied to its exam by the first of those
that names one; an unscheduled step (no exam) is kept, and its images go to reconciliation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from core_server.ris import records
from core_server.ris.models import Conflict, NotFound, PerformedStep, RisError
from core_server.ris.tables import ris_exams, ris_performed_steps

IN_PROGRESS, COMPLETED, DISCONTINUED = "IN PROGRESS", "COMPLETED", "DISCONTINUED"


def exam_for(conn: Connection, attributes: Mapping[str, Any]) -> int | None:
    for keyword, column in (
        ("AccessionNumber", ris_exams.c.accession_number),
        ("RequestedProcedureID", ris_exams.c.requested_procedure_id),
        ("ScheduledProcedureStepID", ris_exams.c.scheduled_step_id),
        ("StudyInstanceUID", ris_exams.c.study_instance_uid),
    ):
        value = str(attributes.get(keyword) or "").strip()
        if value:
            found = conn.execute(
                select(ris_exams.c.id).where(column == value).order_by(ris_exams.c.id.desc())
            ).first()
            if found is not None:
                return int(found[0])
    return None


def _when(attributes: Mapping[str, Any], prefix: str) -> datetime | None:
    day = str(attributes.get(f"{prefix}Date") or "").strip()
    clock = str(attributes.get(f"{prefix}Time") or "").strip().split(".")[0].ljust(6, "0")
    if not day:
        return None
    try:
        return datetime.strptime(day + clock[:6], "%Y%m%d%H%M%S")
    except ValueError:
        raise RisError(f"{prefix} date/time {day} {clock} is not valid") from None


def _step(row: Any) -> PerformedStep:
    return PerformedStep(
        row.sop_instance_uid,
        row.exam_fk,
        row.status,
        row.station_ae,
        row.started_at,
        row.ended_at,
    )


def create(
    conn: Connection, uid: str, attributes: Mapping[str, Any], station_ae: str
) -> PerformedStep:
    state = str(attributes.get("PerformedProcedureStepStatus") or "").strip().upper()
    if state != IN_PROGRESS:
        raise RisError(f"N-CREATE must have status IN PROGRESS, not {state!r}")
    if conn.execute(
        select(ris_performed_steps.c.id).where(ris_performed_steps.c.sop_instance_uid == uid)
    ).first():
        raise Conflict(f"performed procedure step {uid} exists already")
    stamp = records.now()
    conn.execute(
        insert(ris_performed_steps).values(
            sop_instance_uid=uid,
            exam_fk=exam_for(conn, attributes),
            status=state,
            station_ae=station_ae,
            started_at=_when(attributes, "PerformedProcedureStepStart"),
            attributes=json.dumps(dict(attributes), default=str, ensure_ascii=False),
            created_at=stamp,
            updated_at=stamp,
        )
    )
    return get(conn, uid)


def set_(conn: Connection, uid: str, attributes: Mapping[str, Any]) -> tuple[PerformedStep, str]:
    """Apply an N-SET; returns the step and its status before."""
    row = conn.execute(
        select(ris_performed_steps)
        .where(ris_performed_steps.c.sop_instance_uid == uid)
        .with_for_update()
    ).first()
    if row is None:
        raise NotFound(f"no performed procedure step {uid}")
    if row.status != IN_PROGRESS:
        raise Conflict(f"performed procedure step {uid} is {row.status} and cannot change")
    state = str(attributes.get("PerformedProcedureStepStatus") or row.status).strip().upper()
    if state not in (IN_PROGRESS, COMPLETED, DISCONTINUED):
        raise RisError(f"unknown performed procedure step status {state!r}")
    merged = json.loads(row.attributes) | {k: v for k, v in attributes.items() if v is not None}
    conn.execute(
        update(ris_performed_steps)
        .where(ris_performed_steps.c.id == row.id)
        .values(
            status=state,
            ended_at=_when(attributes, "PerformedProcedureStepEnd") or row.ended_at,
            attributes=json.dumps(merged, default=str, ensure_ascii=False),
            updated_at=records.now(),
        )
    )
    return get(conn, uid), row.status


def get(conn: Connection, uid: str) -> PerformedStep:
    row = conn.execute(
        select(ris_performed_steps).where(ris_performed_steps.c.sop_instance_uid == uid)
    ).first()
    if row is None:
        raise NotFound(f"no performed procedure step {uid}")
    return _step(row)


def for_exam(conn: Connection, exam_id: int) -> list[PerformedStep]:
    rows = conn.execute(
        select(ris_performed_steps)
        .where(ris_performed_steps.c.exam_fk == exam_id)
        .order_by(ris_performed_steps.c.id)
    )
    return [_step(r) for r in rows]
