"""The QC worklist: the performed exams of some hospital days with their image grade (the
report's), the reasons of the newest grade given here, and any retake they wait for."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from core_server import clock, db, names
from core_server.quality.models import GRADES, Invalid
from core_server.quality.service import Quality
from core_server.quality.tables import quality_image_grades
from core_server.ris import ExamStatus

PERFORMED: list[str] = [ExamStatus.COMPLETED, ExamStatus.REPORTED, ExamStatus.VERIFIED]
MAX_DAYS = 31
MAX_ROWS = 1000


def exam_list(
    quality: Quality,
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    modality: str = "",
    grade: str = "",
) -> list[dict[str, Any]]:
    """``grade``: a grade, ``ungraded``, ``waiting`` (sent back, retake not done) or all."""
    last = date_to or clock.today()
    first = date_from or last
    if first > last or (last - first).days >= MAX_DAYS:
        raise Invalid("quality.list.bad_range", days=MAX_DAYS)
    if grade and grade not in (*GRADES, "ungraded", "waiting"):
        raise Invalid("quality.grade.invalid", value=grade, allowed=", ".join(GRADES))
    exams: list[Any] = []
    day = last
    while day >= first and len(exams) < MAX_ROWS:
        exams += quality.ris.exams(day=day, modality=modality, status=PERFORMED, limit=MAX_ROWS)
        day -= timedelta(days=1)
    waiting = quality.waiting_for_retake([e.id for e in exams])
    reasons = _newest_reasons(quality, [e.id for e in exams])
    rows = []
    for e in exams:
        current, by = quality.current_grade(e.id)
        row = {
            "exam_id": e.id,
            "accession_number": e.accession_number,
            "patient_id": e.patient_id,
            "patient_name": names.display(e.patient_name),
            "procedure_name": e.procedure_name,
            "modality": e.modality,
            "exam_status": e.status,
            "exam_at": clock.iso(e.scheduled_at or e.created_at),
            "technician": e.status_by if e.status == ExamStatus.COMPLETED else "",
            "grade": current,
            "graded_by": by,
            "reasons": reasons.get(e.id, []) if current else [],
            "waiting_for_retake": waiting.get(e.id, ""),
            "retake_of": e.retake_of,
        }
        if _wanted(row, grade):
            rows.append(row)
    return rows


def _wanted(row: dict[str, Any], grade: str) -> bool:
    if grade == "ungraded":
        return not row["grade"]
    if grade == "waiting":
        return bool(row["waiting_for_retake"])
    return not grade or row["grade"] == grade


def _newest_reasons(quality: Quality, exam_ids: list[int]) -> dict[int, list[str]]:
    if not exam_ids:
        return {}
    g = quality_image_grades.c
    with db.read(quality.engine) as conn:
        rows = conn.execute(
            select(g.exam_id, g.reasons).where(g.exam_id.in_(exam_ids)).order_by(g.graded_at, g.id)
        ).all()
    return {int(r.exam_id): json.loads(r.reasons) for r in rows}  # the newest wins
