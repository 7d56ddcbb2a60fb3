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

from core_server import clock, db
from core_server.ris import exams, records
from core_server.ris.base import RisCore
from core_server.ris.models import (
    Conflict,
    ExamStatus,
    NotFound,
    PerformedStep,
    RisError,
    StatusChange,
)
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
    """A step's DA + TM: the modality's wall clock, which is the hospital's."""
    day = str(attributes.get(f"{prefix}Date") or "").strip()
    time = str(attributes.get(f"{prefix}Time") or "").strip().split(".")[0].ljust(6, "0")
    if not day:
        return None
    try:
        wall = datetime.strptime(day + time[:6], "%Y%m%d%H%M%S")
    except ValueError:
        raise RisError("ris.mpps.bad_time", what=prefix, day=day, time=time) from None
    return clock.from_local(wall)


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
        raise RisError("ris.mpps.create_not_in_progress", status=state)
    if conn.execute(
        select(ris_performed_steps.c.id).where(ris_performed_steps.c.sop_instance_uid == uid)
    ).first():
        raise Conflict("ris.mpps.exists", uid=uid)
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
        raise NotFound("ris.mpps.not_found", uid=uid)
    if row.status != IN_PROGRESS:
        raise Conflict("ris.mpps.final", uid=uid, status=row.status)
    state = str(attributes.get("PerformedProcedureStepStatus") or row.status).strip().upper()
    if state not in (IN_PROGRESS, COMPLETED, DISCONTINUED):
        raise RisError("ris.mpps.unknown_status", status=state)
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
        raise NotFound("ris.mpps.not_found", uid=uid)
    return _step(row)


def for_exam(conn: Connection, exam_id: int) -> list[PerformedStep]:
    rows = conn.execute(
        select(ris_performed_steps)
        .where(ris_performed_steps.c.exam_fk == exam_id)
        .order_by(ris_performed_steps.c.id)
    )
    return [_step(r) for r in rows]


def _started(conn: Connection, step: PerformedStep, station_ae: str) -> list[StatusChange]:
    """N-CREATE moves a scheduled, arrived (or no-show) exam to ``in_progress``."""
    if step.exam_id is None:
        return []
    current = exams.exam_row(conn, step.exam_id).status
    if current not in (ExamStatus.SCHEDULED, ExamStatus.ARRIVED, ExamStatus.NO_SHOW):
        return []
    who = f"mpps:{station_ae}"
    changes = []
    if current == ExamStatus.NO_SHOW:
        changes.append(exams.transition(conn, step.exam_id, ExamStatus.ARRIVED, who))
    changes.append(
        exams.transition(conn, step.exam_id, ExamStatus.IN_PROGRESS, who, "MPPS IN PROGRESS")
    )
    return changes


def _ended(
    conn: Connection, step: PerformedStep, attributes: Mapping[str, Any], station_ae: str
) -> list[StatusChange]:
    """N-SET COMPLETED completes an exam in progress; DISCONTINUED returns it to arrived."""
    if step.exam_id is None or step.status == IN_PROGRESS:
        return []
    if exams.exam_row(conn, step.exam_id).status != ExamStatus.IN_PROGRESS:
        return []
    target = ExamStatus.COMPLETED if step.status == COMPLETED else ExamStatus.ARRIVED
    reason = f"MPPS {step.status}"
    if step.status == DISCONTINUED:
        why = attributes.get("PerformedProcedureStepDiscontinuationReason")
        reason += f": {why}" if why else ""
    return [exams.transition(conn, step.exam_id, target, f"mpps:{station_ae}", reason)]


class PerformedSteps(RisCore):
    """The service's MPPS methods."""

    def performed_step_created(
        self, sop_instance_uid: str, attributes: Mapping[str, Any], *, station_ae: str
    ) -> PerformedStep:
        """MPPS N-CREATE (IN PROGRESS): the referenced exam goes ``in_progress``."""
        with self._write() as conn:
            step = create(conn, sop_instance_uid, attributes, station_ae)
            changes = _started(conn, step, station_ae)
        self._publish(changes)
        return step

    def performed_step_set(
        self, sop_instance_uid: str, attributes: Mapping[str, Any], *, station_ae: str
    ) -> PerformedStep:
        """MPPS N-SET: COMPLETED completes the exam; DISCONTINUED returns it to ``arrived``
        (the patient may be examined again). Only an exam still in progress moves."""
        with self._write() as conn:
            step, _before = set_(conn, sop_instance_uid, attributes)
            changes = _ended(conn, step, attributes, station_ae)
        self._publish(changes)
        return step

    def performed_steps(self, exam_id: int) -> list[PerformedStep]:
        with db.read(self.engine) as conn:
            return for_exam(conn, exam_id)
