"""Film quality grades (胶片质量评级): a QC user grades a film sheet 优/良/中/差 with reasons
from a fixed list, as the QC page grades an exam's images (``docs/quality.md``).

- Who grades: the administrator, the department head (科主任) and reviewing doctors (the QC
  doctors), the roles :data:`GRADERS` names.
- 中 and 差 need one reason at least; reasons are codes (texts in the web's catalogue,
  ``film.reason.<code>``), each given once, in the order picked.
- Every grade is kept (``film_sheet_grades``); the newest is the sheet's grade. Each is on
  the audit trail (``film.sheet.grade``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, Select, func, insert, select

from core_server import clock, db, names
from core_server.auth import record_audit
from core_server.film.cloud import sheet as sheet_ref
from core_server.film.grade_tables import film_sheet_grades
from core_server.film.tables import film_sheets
from core_server.refusals import Invalid
from core_server.ris.tables import ris_exams, ris_patients

GRADES = ("excellent", "good", "fair", "poor")  # 优 良 中 差, the QC page's words
NEEDS_REASON = ("fair", "poor")
# 版式不当, 窗宽窗位不当, 漏打, 伪影, 标注错误, 密度/对比不当, 尺寸选择不当
REASONS = ("layout", "window", "missing", "artifact", "annotation", "density", "film_size")
GRADERS = ("admin", "department_head", "reviewing_doctor")
MAX_DAYS = 31  # the page lists at most a month of sheets at once


@dataclass(frozen=True)
class SheetGrade:
    id: int
    sheet_id: int
    grade: str
    reasons: list[str]
    note: str
    graded_by: str
    role: str
    graded_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "graded_at": clock.iso(self.graded_at)}


def _grade(row: Any) -> SheetGrade:
    return SheetGrade(
        int(row.id),
        int(row.sheet_id),
        row.grade,
        json.loads(row.reasons),
        row.note,
        row.graded_by,
        row.role,
        row.graded_at,
    )


def _checked(grade: str, reasons: list[str]) -> list[str]:
    if grade not in GRADES:
        raise Invalid("film.grade.invalid", value=grade, allowed=", ".join(GRADES))
    unknown = [r for r in reasons if r not in REASONS]
    if unknown:
        raise Invalid("film.grade.reason_unknown", codes=", ".join(unknown))
    picked = list(dict.fromkeys(reasons))
    if grade in NEEDS_REASON and not picked:
        raise Invalid("film.grade.reason_needed")
    return picked


def grade(
    engine: Engine,
    sheet_id: int,
    given: str,
    reasons: list[str],
    note: str = "",
    *,
    by: str,
    role: str,
    address: str = "",
) -> SheetGrade:
    """Grade one sheet (NotFound ``film.sheet_not_found`` for an unknown one)."""
    picked = _checked(given, reasons)
    with db.write(engine) as conn:
        sheet_ref(conn, sheet_id)
        conn.execute(
            insert(film_sheet_grades).values(
                sheet_id=sheet_id,
                grade=given,
                reasons=json.dumps(picked),
                note=note,
                graded_by=by,
                role=role,
                graded_at=clock.now(),
            )
        )
        record_audit(
            conn,
            username=by,
            action="film.sheet.grade",
            target=f"film_sheet:{sheet_id}",
            detail={"grade": given, "reasons": picked, "note": note},
            address=address,
        )
    return grades_of(engine, sheet_id)[0]


def grades_of(engine: Engine, sheet_id: int) -> list[SheetGrade]:
    """The grades a sheet was given, newest first."""
    g = film_sheet_grades.c
    with db.read(engine) as conn:
        sheet_ref(conn, sheet_id)
        rows = conn.execute(
            select(film_sheet_grades).where(g.sheet_id == sheet_id).order_by(g.id.desc())
        )
        return [_grade(r) for r in rows]


def current_grades() -> Select[Any]:
    """``(sheet_id, grade, reasons)`` of each graded sheet's newest grade (for figures)."""
    g = film_sheet_grades.c
    newest = select(func.max(g.id)).group_by(g.sheet_id)
    return select(g.sheet_id, g.grade, g.reasons).where(g.id.in_(newest))


def to_grade(
    engine: Engine, start: date, end: date, *, grade_filter: str = ""
) -> list[dict[str, Any]]:
    """The sheets made on these hospital days (newest first) with their exam, patient and
    current grade; ``grade_filter`` one grade, or ``ungraded``."""
    if end < start or (end - start).days >= MAX_DAYS:
        raise Invalid("film.grade.bad_range", start=start.isoformat(), end=end.isoformat())
    low, high = clock.local_day_bounds(start)[0], clock.local_day_bounds(end)[1]
    s = film_sheets.c
    current = current_grades().subquery()
    query = (
        select(
            film_sheets,
            current.c.grade,
            current.c.reasons,
            ris_exams.c.procedure_name,
            ris_patients.c.name.label("patient_name"),
        )
        .outerjoin(current, current.c.sheet_id == s.id)
        .outerjoin(ris_exams, ris_exams.c.id == s.exam_id)
        .outerjoin(ris_patients, ris_patients.c.id == ris_exams.c.patient_fk)
        .where(s.created_at >= low, s.created_at < high)
        .order_by(s.created_at.desc(), s.id.desc())
        .limit(1000)
    )
    if grade_filter == "ungraded":
        query = query.where(current.c.grade.is_(None))
    elif grade_filter:
        query = query.where(current.c.grade == grade_filter)
    with db.read(engine) as conn:
        return [_listed(r) for r in conn.execute(query)]


def _listed(row: Any) -> dict[str, Any]:
    return {
        "id": int(row.id),
        "exam_id": row.exam_id,
        "accession_number": row.accession_number,
        "patient_id": row.patient_id,
        "patient_name": names.display(row.patient_name) if row.patient_name else "",
        "procedure": row.procedure_name or "",
        "modality": row.modality,
        "source": row.source,
        "calling_ae": row.calling_ae,
        "film_size": row.film_size,
        "display_format": row.display_format,
        "images": row.images,
        "created_at": clock.iso(row.created_at),
        "printed": row.printed_at is not None,
        "printer": row.printer or "",
        "grade": row.grade or "",
        "reasons": json.loads(row.reasons) if row.reasons else [],
    }
