"""The quality-control service (质控): the reasons list, image grades with reasons, sending
an exam graded 差 back for a retake, and what a report waits for.

Where a grade lives: the exam's *current* image grade stays on its report
(``reporting_reports.image_quality``, set through :meth:`Reporting.grade_images`, which the
editor and the technician's page read and set too); this module keeps every grade given with
its reasons and who gave it, and the retakes it sent back. A retake is the RIS's own step
(:meth:`Ris.retake`, a new exam linked to the first); the first exam's report waits until the
retake exam is performed (or cancelled): :meth:`waiting_for_retake` is registered with the
reporting service, which refuses to move the report forward meanwhile and shows it on its
worklist."""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from core_server import clock, db
from core_server.auth import record_audit
from core_server.events import EventBus
from core_server.quality.models import (
    GRADES,
    NEEDS_REASON,
    Conflict,
    ImageGrade,
    Invalid,
    NotFound,
    Reason,
    Retake,
)
from core_server.quality.tables import quality_image_grades, quality_reasons, quality_retakes
from core_server.reporting import Doctor, Reporting
from core_server.ris import EXAM_STATUS_CHANGED, ExamStatus, RetakeKind, Ris

log = logging.getLogger(__name__)

# A retake exam in these statuses is still to be done: the first exam's report waits.
PENDING = (ExamStatus.SCHEDULED, ExamStatus.ARRIVED, ExamStatus.IN_PROGRESS)


class Quality:
    def __init__(self, engine: Engine, bus: EventBus, ris: Ris, reporting: Reporting) -> None:
        self.engine = engine
        self.ris = ris
        self.reporting = reporting
        reporting.retake_waits.append(self.waiting_for_retake)
        bus.subscribe(EXAM_STATUS_CHANGED, self.on_exam_status_changed)

    # -- the reasons list ---------------------------------------------------------------------

    def reasons(self, *, active_only: bool = False) -> list[Reason]:
        query = select(quality_reasons).order_by(quality_reasons.c.position, quality_reasons.c.code)
        if active_only:
            query = query.where(quality_reasons.c.active)
        with db.read(self.engine) as conn:
            return [_reason(r) for r in conn.execute(query)]

    def add_reason(
        self, code: str, name_zh: str, name_en: str = "", position: int = 0, *, by: Actor
    ) -> Reason:
        code = code.strip()
        with db.write(self.engine) as conn:
            if _reason_row(conn, code) is not None:
                raise Conflict("quality.reason.exists", code=code)
            values = {"code": code, "name_zh": name_zh, "name_en": name_en, "position": position}
            conn.execute(insert(quality_reasons).values(**values, active=True))
            by.audit(conn, "quality.reason.add", code, values)
        return self._reason(code)

    def update_reason(self, code: str, changes: dict[str, Any], *, by: Actor) -> Reason:
        """Rename, reorder or (de)activate a reason: grades already given keep its code."""
        allowed = {"name_zh", "name_en", "active", "position"}
        values = {k: v for k, v in changes.items() if k in allowed and v is not None}
        with db.write(self.engine) as conn:
            if _reason_row(conn, code) is None:
                raise NotFound("quality.reason.not_found", code=code)
            if values:
                conn.execute(
                    update(quality_reasons).where(quality_reasons.c.code == code).values(**values)
                )
                by.audit(conn, "quality.reason.update", code, values)
        return self._reason(code)

    def _reason(self, code: str) -> Reason:
        with db.read(self.engine) as conn:
            row = _reason_row(conn, code)
        if row is None:
            raise NotFound("quality.reason.not_found", code=code)
        return _reason(row)

    # -- grading ------------------------------------------------------------------------------

    def grade_images(
        self, exam_id: int, grade: str, reasons: list[str], note: str = "", *, by: Actor
    ) -> ImageGrade:
        """Grade the exam's images 优/良/中/差 with reasons from the list (中 and 差 need one at
        least); the report's grade becomes this one, the history keeps every grade."""
        if grade not in GRADES:
            raise Invalid("quality.grade.invalid", value=grade, allowed=", ".join(GRADES))
        reasons = self._known_reasons(reasons)
        if grade in NEEDS_REASON and not reasons:
            raise Invalid("quality.grade.reason_needed")
        # The report's column first: it refuses an unknown or not yet performed exam.
        self.reporting.grade_images(exam_id, Doctor(by.username, by.role), grade)
        now = clock.now()
        with db.write(self.engine) as conn:
            key = conn.execute(
                insert(quality_image_grades).values(
                    exam_id=exam_id,
                    grade=grade,
                    reasons=json.dumps(reasons),
                    note=note,
                    graded_by=by.username,
                    role=by.role,
                    graded_at=now,
                )
            ).inserted_primary_key
            assert key is not None
            detail = {"grade": grade, "reasons": reasons, "note": note}
            by.audit(conn, "quality.image_grade", f"exam:{exam_id}", detail)
        return self.grades(exam_id)[0]

    def grades(self, exam_id: int) -> list[ImageGrade]:
        """The grades given to the exam's images, newest first."""
        g = quality_image_grades.c
        with db.read(self.engine) as conn:
            rows = conn.execute(
                select(quality_image_grades)
                .where(g.exam_id == exam_id)
                .order_by(g.graded_at.desc(), g.id.desc())
            )
            return [_grade(r) for r in rows]

    def current_grade(self, exam_id: int) -> tuple[str, str]:
        """The exam's image grade and who gave it (the report's, whichever page set it)."""
        report = self.reporting.report_for_exam(exam_id)
        if report is None:
            return "", ""
        return report.image_quality, report.image_quality_by

    def _known_reasons(self, codes: list[str]) -> list[str]:
        active = {r.code for r in self.reasons(active_only=True)}
        unknown = [c for c in codes if c not in active]
        if unknown:
            raise Invalid("quality.reason.unknown", codes=", ".join(unknown))
        return list(dict.fromkeys(codes))  # each once, in the order picked

    # -- sending back for a retake --------------------------------------------------------------

    def send_back(
        self,
        exam_id: int,
        kind: str = RetakeKind.REPEAT.value,
        reasons: list[str] | None = None,
        note: str = "",
        *,
        by: Actor,
    ) -> Retake:
        """An exam graded 差 goes back for a retake (重拍, or 补拍/加拍): the RIS's retake
        step makes the new exam; the report of this one waits until it is performed."""
        grade, _ = self.current_grade(exam_id)
        if grade != "poor":
            raise Conflict("quality.retake.not_poor", exam_id=exam_id)
        if any(r.waiting for r in self.retakes(exam_id)):
            raise Conflict("quality.retake.already_waiting", exam_id=exam_id)
        if reasons is None:
            given = self.grades(exam_id)
            reasons = given[0].reasons if given else []
        reasons = self._known_reasons(reasons)
        names = {r.code: r.name_zh for r in self.reasons()}
        why = "质控退回: " + "、".join(names[c] for c in reasons) + (f"; {note}" if note else "")
        retake = self.ris.retake(exam_id, kind, username=by.username, reason=why)
        with db.write(self.engine) as conn:
            conn.execute(
                insert(quality_retakes).values(
                    exam_id=exam_id,
                    retake_exam_id=retake.id,
                    retake_accession=retake.accession_number,
                    kind=retake.retake_kind,
                    reasons=json.dumps(reasons),
                    note=note,
                    sent_by=by.username,
                    sent_at=clock.now(),
                )
            )
            detail = {"kind": kind, "reasons": reasons, "note": note, "retake": retake.id}
            by.audit(conn, "quality.retake", f"exam:{exam_id}", detail)
        return self.retakes(exam_id)[0]

    def retakes(self, exam_id: int) -> list[Retake]:
        """The retakes this exam was sent back for, newest first (a finished one closed)."""
        r = quality_retakes.c
        with db.read(self.engine) as conn:
            rows = conn.execute(
                select(quality_retakes)
                .where(r.exam_id == exam_id)
                .order_by(r.sent_at.desc(), r.id.desc())
            ).all()
        found = [_retake(row) for row in rows]
        if any(self._finished(t) for t in found if t.waiting):
            self._close_finished([t for t in found if t.waiting])
            return self.retakes(exam_id)
        return found

    def waiting_for_retake(self, exam_ids: list[int]) -> dict[int, str]:
        """Exam id -> the accession number of the retake its report waits for. Read-only (the
        reporting service asks it before its own write): the RIS says whether the retake was
        done, whatever this module has recorded yet."""
        if not exam_ids:
            return {}
        r = quality_retakes.c
        with db.read(self.engine) as conn:
            rows = conn.execute(
                select(quality_retakes).where(r.exam_id.in_(exam_ids), r.done_at.is_(None))
            ).all()
        return {t.exam_id: t.retake_accession for t in map(_retake, rows) if not self._finished(t)}

    def on_exam_status_changed(self, _topic: str, payload: dict[str, Any]) -> None:
        """A retake exam performed (or cancelled): its first exam waits no more."""
        if payload.get("new_status") in PENDING:
            return
        r = quality_retakes.c
        with db.write(self.engine) as conn:
            conn.execute(
                update(quality_retakes)
                .where(r.retake_exam_id == payload["exam_id"], r.done_at.is_(None))
                .values(done_at=clock.now(), done_status=str(payload["new_status"]))
            )

    def _finished(self, retake: Retake) -> bool:
        return self.ris.exam(retake.retake_exam_id).status not in PENDING

    def _close_finished(self, waiting: list[Retake]) -> None:
        for t in waiting:
            status = self.ris.exam(t.retake_exam_id).status
            if status not in PENDING:
                self.on_exam_status_changed("", {"exam_id": t.retake_exam_id, "new_status": status})


class Actor:
    """Who acts, and from where (for the audit trail)."""

    def __init__(self, username: str, role: str, address: str = "") -> None:
        self.username = username
        self.role = role
        self.address = address

    def audit(self, conn: Connection, action: str, target: str, detail: dict[str, Any]) -> None:
        record_audit(
            conn,
            username=self.username,
            action=action,
            target=target,
            detail=detail,
            address=self.address,
        )


def _reason_row(conn: Connection, code: str) -> Any:
    return conn.execute(select(quality_reasons).where(quality_reasons.c.code == code)).first()


def _reason(row: Any) -> Reason:
    return Reason(row.code, row.name_zh, row.name_en, bool(row.active), int(row.position))


def _grade(row: Any) -> ImageGrade:
    return ImageGrade(
        int(row.id),
        int(row.exam_id),
        row.grade,
        json.loads(row.reasons),
        row.note,
        row.graded_by,
        row.role,
        row.graded_at,
    )


def _retake(row: Any) -> Retake:
    return Retake(
        int(row.id),
        int(row.exam_id),
        int(row.retake_exam_id),
        row.retake_accession,
        row.kind,
        json.loads(row.reasons),
        row.note,
        row.sent_by,
        row.sent_at,
        row.done_at,
        row.done_status,
    )
