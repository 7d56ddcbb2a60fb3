"""The report's workflow: submit, review, sign, reject, amend (who may is
:mod:`~core_server.reporting.signoff`'s), the RIS exam following each step, the events
published after the commit, kept versions and their diff, the history, and the outbox of
results the HL7 adapter reads.

The RIS exam follows through :meth:`Ris.change_status`: submitted -> ``reported``, signed ->
``verified``, rejected -> back to ``completed``, amended -> back to ``reported``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import Connection, select, update

from core_server import clock, db
from core_server.reporting import records, signoff, text
from core_server.reporting.base import Doctor
from core_server.reporting.editing import Content, Editing, locked_by_other
from core_server.reporting.models import (
    REPORT_REJECTED,
    REPORT_REOPENED,
    REPORT_SIGNED,
    REPORT_SUBMITTED,
    Conflict,
    Grade,
    HistoryEntry,
    Locked,
    NotFound,
    Report,
    ReportStatus,
    ResultEvent,
    Version,
    WordCheckFailed,
    WordRule,
)
from core_server.reporting.tables import reporting_history, reporting_reports, reporting_versions
from core_server.reporting.templates import rules_for
from core_server.ris import ExamStatus

log = logging.getLogger(__name__)
S = ReportStatus

# The status each step leaves the report in.
NEW_STATUS = {
    "submit": S.SUBMITTED,
    "review": S.REVIEWED,
    "sign": S.SIGNED,
    "reject": S.DRAFT,
    "amend": S.DRAFT,
}
# The RIS exam statuses each step moves the exam through, in order.
RIS_TARGETS = {
    "submit": [ExamStatus.REPORTED],
    "review": [],
    "sign": [ExamStatus.REPORTED, ExamStatus.VERIFIED],
    "reject": [ExamStatus.COMPLETED],
    "amend": [ExamStatus.REPORTED],
}
EVENTS = {
    "submit": REPORT_SUBMITTED,
    "sign": REPORT_SIGNED,
    "reject": REPORT_REJECTED,
    "amend": REPORT_REOPENED,
}


class Workflow(Editing):
    def check(self, report_id: int) -> list[dict[str, str]]:
        """Forbidden and mutually exclusive words in the report (empty when clean)."""
        with db.read(self.engine) as conn:
            row = records.report_row(conn, report_id)
            return _problems(row, rules_for(conn, row.modality))

    def allowed_actions(self, report: Report, doctor: Doctor) -> list[str]:
        """What ``doctor`` may do with ``report`` now: ``edit`` (or ``take_over``, someone
        else's draft), the workflow steps, and ``flags``, ``critical``, ``grade_report``,
        ``follow_up``, ``save_template``. A page shows these buttons and nothing else."""
        grade = self.grade(doctor)
        if grade is None:
            return []
        steps = signoff.allowed_steps(
            report.status,
            grade,
            self.levels(report.department),
            emergency=report.emergency,
            username=doctor.username,
            author=report.author,
        )
        others_draft = report.status == S.DRAFT and report.author not in ("", doctor.username)
        if "edit" in steps and others_draft:
            steps[steps.index("edit")] = "take_over"  # opened read-only; taking over is a choice
        actions = [*steps, "flags", "critical", "follow_up", "save_template"]
        if report.status != S.SIGNED:
            actions.append("result_flags")  # positive / infectious: part of the signed result
        if doctor.role == "reviewing_doctor" and grade != Grade.RESIDENT:
            actions.append("grade_report")
        return actions

    def submit(self, report_id: int, doctor: Doctor, content: Content | None = None) -> Report:
        return self._step(report_id, doctor, "submit", content)

    def review(self, report_id: int, doctor: Doctor, content: Content | None = None) -> Report:
        return self._step(report_id, doctor, "review", content)

    def sign(self, report_id: int, doctor: Doctor, content: Content | None = None) -> Report:
        return self._step(report_id, doctor, "sign", content)

    def reject(self, report_id: int, doctor: Doctor, reason: str) -> Report:
        return self._step(report_id, doctor, "reject", None, reason)

    def amend(self, report_id: int, doctor: Doctor, reason: str) -> Report:
        return self._step(report_id, doctor, "amend", None, reason)

    def _step(
        self,
        report_id: int,
        doctor: Doctor,
        action: str,
        content: Content | None,
        reason: str = "",
    ) -> Report:
        if content is not None:
            # The text comes first, in its own transaction: a refused step (a forbidden word,
            # a missing field) loses nothing the doctor typed.
            self.autosave(report_id, doctor, content)
        if action in ("submit", "review", "sign"):
            # Asked before the write: the images are being retaken, the report waits.
            exam_id = self.report(report_id).exam_id
            retake = self.waiting_for_retake([exam_id]).get(exam_id)
            if retake:
                raise Conflict("reporting.report.waiting_for_retake", accession=retake)
        with self._write() as conn:
            row = records.report_row(conn, report_id, for_update=True)
            old, levels = row.status, self.levels(row.department, conn)
            self._check_step(conn, row, doctor, action, levels, reason)
            number = self._keep(conn, row, action, doctor.username, NEW_STATUS[action], reason)
            conn.execute(
                update(reporting_reports)
                .where(reporting_reports.c.id == report_id)
                .values(_step_values(row, action, doctor.username, levels, number))
            )
            records.add_history(
                conn, report_id, action, doctor.username, old, NEW_STATUS[action], number, reason
            )
        report = self.report(report_id)
        self._follow_in_ris(report, action, doctor.username, reason)
        self._announce(report, action, doctor.username, reason)
        return report

    def _check_step(
        self, conn: Connection, row: Any, doctor: Doctor, action: str, levels: int, reason: str
    ) -> None:
        """Refuse the step unless the sign-off rules allow it and, for a step forward, the
        report is complete (text, required fields, word rules) and the lock is the doctor's."""
        grade, old, author = self.grade(doctor, conn), row.status, row.author
        if action == "submit":
            signoff.check_submit(old, grade, levels)
        elif action == "review":
            signoff.check_review(old, grade, levels, doctor.username, author)
        elif action == "sign":
            signoff.check_sign(old, grade, levels, bool(row.emergency), doctor.username, author)
        elif action == "reject":
            signoff.check_reject(old, grade, reason)
        else:
            signoff.check_amend(old, grade, reason)
        if action in ("submit", "review", "sign"):
            self._take_lock(conn, row, doctor.username)
            self._check_fields(conn, row.template_id, json.loads(row.fields), complete=True)
            if not text.plain(row.findings + row.impression).strip():
                raise Conflict("reporting.report.empty")
            problems = _problems(row, rules_for(conn, row.modality))
            if problems:
                raise WordCheckFailed(problems)
        elif locked_by_other(row.lock_holder, row.lock_expires_at, doctor.username):
            raise Locked(row.lock_holder, row.lock_expires_at)

    def _follow_in_ris(self, report: Report, action: str, username: str, why: str) -> None:
        """Move the RIS exam along: the steps the RIS status machine allows, in order."""
        targets = RIS_TARGETS[action]
        if action == "reject" and report.amendments:
            targets = []  # an amendment rejected stays "reported" (the old signature stood)
        try:
            exam = self.ris.exam(report.exam_id)
            for target in targets:
                if exam.status == target:
                    continue
                if (
                    target == ExamStatus.REPORTED
                    and exam.status == ExamStatus.VERIFIED
                    and action != "amend"
                ):
                    continue
                exam = self.ris.change_status(
                    report.exam_id, target, username=username, reason=why or f"report {action}"
                )
        except Exception:
            # The report's step is committed; the exam status is the RIS's to refuse (logged
            # for the administrator, shown on the exam's history as missing).
            log.exception("report %s: the RIS exam did not follow the %s", report.id, action)

    def _announce(self, report: Report, action: str, username: str, reason: str) -> None:
        topic = EVENTS.get(action)
        if topic is None:
            return
        payload = {
            "report_id": report.id,
            "exam_id": report.exam_id,
            "accession_number": report.accession_number,
            "version": report.version,
            "username": username,
            "at": clock.iso(report.updated_at),
            "amendments": report.amendments,
            "reason": reason,
        }
        if action == "sign":
            corrected = report.amendments > 0
            payload |= {"final": not corrected, "corrected": corrected}
        self.bus.publish(topic, payload)

    # -- versions and history -----------------------------------------------------------------

    def versions(self, report_id: int) -> list[Version]:
        with db.read(self.engine) as conn:
            records.report_row(conn, report_id)
            rows = conn.execute(
                select(reporting_versions)
                .where(reporting_versions.c.report_id == report_id)
                .order_by(reporting_versions.c.number)
            )
            return [records.version(r) for r in rows]

    def version(self, report_id: int, number: int) -> Version:
        for found in self.versions(report_id):
            if found.number == number:
                return found
        raise NotFound("reporting.version.not_found", report_id=report_id, number=number)

    def diff(
        self, report_id: int, number: int | None = None, against: int | None = None
    ) -> dict[str, Any]:
        """What version ``number`` (default: the newest) changed against ``against`` (default:
        the newest earlier version saved by someone else: the previous author's), as runs of
        equal/delete/insert text per part; CJK text is compared character by character."""
        kept = self.versions(report_id)
        if not kept:
            raise NotFound("reporting.version.none", report_id=report_id)
        new = kept[-1] if number is None else self.version(report_id, number)
        if against is None:
            earlier = [v for v in kept if v.number < new.number and v.username != new.username]
            old = earlier[-1] if earlier else None
        else:
            old = self.version(report_id, against)
        return {
            "report_id": report_id,
            "from": old.as_dict() if old else None,
            "to": new.as_dict(),
            "findings": text.diff(
                text.plain(old.findings) if old else "", text.plain(new.findings)
            ),
            "impression": text.diff(
                text.plain(old.impression) if old else "", text.plain(new.impression)
            ),
        }

    def history(self, report_id: int) -> list[HistoryEntry]:
        with db.read(self.engine) as conn:
            rows = conn.execute(
                select(reporting_history)
                .where(reporting_history.c.report_id == report_id)
                .order_by(reporting_history.c.id)
            )
            return [records.history_entry(r) for r in rows]

    def result_events(self, after: int = 0, limit: int = 100) -> list[ResultEvent]:
        """Submissions and signatures recorded after ``event_id`` ``after``, oldest first: the
        outbox the HL7 adapter reads with its own cursor to send results (ORU^R01), so that a
        step committed here reaches the HIS even if the bus event is lost. Ids commit in
        increasing order (:func:`core_server.db.serialize_writes`)."""
        h = reporting_history.c
        earlier = reporting_history.alias("earlier")
        amended = (
            select(earlier.c.id)
            .where(
                earlier.c.report_id == h.report_id,
                earlier.c.action == "amend",
                earlier.c.id < h.id,
            )
            .exists()
        )
        with db.read(self.engine) as conn:
            rows = conn.execute(
                select(h.id, h.report_id, h.action, h.version, h.username, amended.label("amended"))
                .where(h.id > after, h.action.in_(["submit", "sign"]))
                .order_by(h.id)
                .limit(limit)
            ).all()
        return [
            ResultEvent(r.id, r.report_id, r.action, r.version, r.username, bool(r.amended))
            for r in rows
        ]


def _problems(row: Any, rules: list[WordRule]) -> list[dict[str, str]]:
    return text.check_words(text.plain(row.findings) + "\n" + text.plain(row.impression), rules)


def _step_values(row: Any, action: str, username: str, levels: int, number: int) -> dict[str, Any]:
    """The report's columns after the step."""
    old = row.status
    values: dict[str, Any] = {
        "status": NEW_STATUS[action],
        "levels": 1 if action == "sign" and old == S.DRAFT else levels,
        # The lock goes with the step: the next person in the chain takes it.
        "lock_holder": "",
        "lock_expires_at": None,
    }
    if action == "submit" and not row.author:
        values["author"] = username
    if action == "sign" and old == S.DRAFT and not row.author:
        values["author"] = username
    if action == "review":
        values["reviewed_by"] = username
    if action == "sign":
        values.update(signed_by=username, signed_at=clock.now(), signed_version=number)
    if action == "amend":
        values["amendments"] = row.amendments + 1
        # The amendment's author is whoever writes it (first edit or submit).
        values["author"] = ""
        values["reviewed_by"] = ""
    if action == "reject":
        values["reviewed_by"] = ""
    return values
