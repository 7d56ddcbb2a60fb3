"""Writing a report: opening the exam's report, the editing lock, autosave and kept versions,
structured fields, key images, flags, quality grades and the pathology follow-up.

One editor at a time: the lock is taken (or renewed) by every edit and expires after
``lock_minutes`` without one; another doctor is refused with :class:`Locked`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from core_server import clock, db
from core_server.reporting import records, signoff, text
from core_server.reporting.base import REPORTABLE, Doctor, ServiceBase
from core_server.reporting.models import (
    AGREEMENT,
    QUALITY_GRADES,
    Conflict,
    Forbidden,
    Grade,
    KeyImage,
    Locked,
    NotFound,
    Report,
    ReportingError,
    ReportStatus,
    Template,
    TemplateField,
)
from core_server.reporting.tables import (
    reporting_default_templates,
    reporting_reports,
    reporting_templates,
)
from core_server.ris import NotFound as ExamNotFound

S = ReportStatus


@dataclass(frozen=True)
class Content:
    """What an editor sends: any part left None is unchanged."""

    findings: str | None = None
    impression: str | None = None
    fields: dict[str, Any] | None = None
    template_id: int | None = None


class Editing(ServiceBase):
    # -- reading ------------------------------------------------------------------------------

    def report(self, report_id: int) -> Report:
        with db.read(self.engine) as conn:
            return records.report(records.report_row(conn, report_id))

    def report_for_exam(self, exam_id: int) -> Report | None:
        with db.read(self.engine) as conn:
            row = conn.execute(
                select(reporting_reports).where(reporting_reports.c.exam_id == exam_id)
            ).first()
        return records.report(row) if row is not None else None

    # -- opening ------------------------------------------------------------------------------

    def start(self, exam_id: int, doctor: Doctor) -> Report:
        """The exam's report, created as an empty draft (or from the exam item's default
        template) the first time; only exams that were performed can be reported."""
        found = self.report_for_exam(exam_id)
        if found is not None:
            return found
        try:
            exam = self.ris.exam(exam_id)
        except ExamNotFound:
            raise NotFound("reporting.exam.not_found", exam_id=exam_id) from None
        if exam.status not in REPORTABLE:
            raise Conflict("reporting.exam.not_performed")
        with self._write() as conn:
            template = self._default_template(conn, exam.procedure_code)
            try:
                with conn.begin_nested():
                    self._create(conn, exam, template, doctor)
            except IntegrityError:
                pass  # another editor created it at the same moment: theirs is the one
        found = self.report_for_exam(exam_id)
        assert found is not None
        return found

    def _create(
        self, conn: Connection, exam: Any, template: Template | None, doctor: Doctor
    ) -> None:
        now = clock.now()
        key = conn.execute(
            insert(reporting_reports).values(
                exam_id=exam.id,
                accession_number=exam.accession_number,
                patient_id=exam.patient_id,
                issuer=exam.issuer,
                patient_name=exam.patient_name,
                department=exam.department,
                modality=exam.modality,
                body_part=exam.body_part,
                procedure_code=exam.procedure_code,
                emergency=exam.emergency,
                status=S.DRAFT,
                findings=template.findings if template else "",
                impression=template.impression if template else "",
                template_id=template.id if template else None,
                # The author is whoever first writes (opening to look is not).
                author="",
                levels=self.levels(exam.department, conn),
                created_at=now,
                updated_at=now,
            )
        ).inserted_primary_key
        assert key is not None
        records.add_history(conn, int(key[0]), "create", doctor.username, "", S.DRAFT, 0)

    def _default_template(self, conn: Connection, procedure_code: str) -> Template | None:
        row = conn.execute(
            select(reporting_templates)
            .join(
                reporting_default_templates,
                reporting_default_templates.c.template_id == reporting_templates.c.id,
            )
            .where(
                reporting_default_templates.c.procedure_code == procedure_code,
                reporting_templates.c.active,
            )
        ).first()
        return records.template(row) if row is not None else None

    # -- the editing lock ---------------------------------------------------------------------

    def lock(self, report_id: int, username: str, *, force: bool = False) -> Report:
        """Take (or renew) the report's editing lock; :class:`Locked` names the holder while
        someone else's lock has not expired. ``force``: an administrator breaks it."""
        with self._write() as conn:
            row = records.report_row(conn, report_id, for_update=True)
            self._take_lock(conn, row, username, force=force)
        return self.report(report_id)

    def unlock(self, report_id: int, username: str) -> Report:
        """Give the lock back (the editor closes the report); someone else's lock stays."""
        with self._write() as conn:
            conn.execute(
                update(reporting_reports)
                .where(
                    reporting_reports.c.id == report_id,
                    reporting_reports.c.lock_holder == username,
                )
                .values(lock_holder="", lock_expires_at=None)
            )
        return self.report(report_id)

    def _take_lock(self, conn: Connection, row: Any, username: str, *, force: bool = False) -> None:
        holder = row.lock_holder
        if locked_by_other(row.lock_holder, row.lock_expires_at, username) and not force:
            raise Locked(holder, row.lock_expires_at)
        if force and holder and holder != username:
            records.add_history(
                conn, row.id, "break_lock", username, row.status, row.status, row.version, holder
            )
        minutes = self.setting("lock_minutes", conn)
        conn.execute(
            update(reporting_reports)
            .where(reporting_reports.c.id == row.id)
            .values(lock_holder=username, lock_expires_at=clock.now() + timedelta(minutes=minutes))
        )

    # -- writing ------------------------------------------------------------------------------

    def autosave(self, report_id: int, doctor: Doctor, content: Content) -> Report:
        """The editor's draft save, every few seconds: the working copy changes and the lock
        is renewed; no version is kept (see :meth:`save`)."""
        with self._write() as conn:
            row = records.report_row(conn, report_id, for_update=True)
            self._edit(conn, row, doctor, content)
        return self.report(report_id)

    def save(self, report_id: int, doctor: Doctor, content: Content | None = None) -> Report:
        """An explicit save: the working copy becomes a kept version."""
        with self._write() as conn:
            row = records.report_row(conn, report_id, for_update=True)
            row = self._edit(conn, row, doctor, content or Content())
            self._keep(conn, row, "save", doctor.username, row.status)
        return self.report(report_id)

    def _edit(self, conn: Connection, row: Any, doctor: Doctor, content: Content) -> Any:
        signoff.check_edit(row.status, self.grade(doctor, conn))
        self._take_lock(conn, row, doctor.username)
        now = clock.now()
        values: dict[str, Any] = {"updated_at": now, "draft_saved_at": now}
        if content.findings is not None:
            values["findings"] = text.sanitize(content.findings)
        if content.impression is not None:
            values["impression"] = text.sanitize(content.impression)
        if content.template_id is not None:
            records.template_row(conn, content.template_id)
            values["template_id"] = content.template_id
        if content.fields is not None:
            template_id = content.template_id or row.template_id
            values["fields"] = json.dumps(
                self._check_fields(conn, template_id, content.fields, complete=False),
                ensure_ascii=False,
            )
        if row.status == S.DRAFT and not row.author:
            values["author"] = doctor.username
        conn.execute(
            update(reporting_reports).where(reporting_reports.c.id == row.id).values(values)
        )
        return records.report_row(conn, row.id)

    def _keep(
        self, conn: Connection, row: Any, action: str, username: str, status: str, reason: str = ""
    ) -> int:
        number = row.version + 1
        records.add_version(conn, row, number, action, username, status, reason)
        conn.execute(
            update(reporting_reports)
            .where(reporting_reports.c.id == row.id)
            .values(version=number, updated_at=clock.now())
        )
        return number

    def _check_fields(
        self, conn: Connection, template_id: int | None, values: dict[str, Any], *, complete: bool
    ) -> dict[str, Any]:
        """Structured answers checked against the template's typed fields."""
        if not values and not complete:
            return {}
        if template_id is None:
            if values:
                raise ReportingError("reporting.fields.no_template")
            return {}
        fields = {f.id: f for f in records.template(records.template_row(conn, template_id)).fields}
        out: dict[str, Any] = {}
        for key, value in values.items():
            spec = fields.get(key)
            if spec is None:
                raise ReportingError("reporting.fields.unknown", field=key)
            if value in (None, ""):
                continue
            out[key] = _typed(spec, value)
        if complete:
            missing = [f.label for f in fields.values() if f.required and f.id not in out]
            if missing:
                raise ReportingError("reporting.fields.required", fields="、".join(missing))
        return out

    def set_key_images(self, report_id: int, doctor: Doctor, images: list[KeyImage]) -> Report:
        """The key images shown with the report (SOP instance + frame), in order."""
        for image in images:
            if not image.sop_instance_uid or image.frame < 1:
                raise ReportingError("reporting.key_images.incomplete")
        uids = sorted({i.sop_instance_uid for i in images})
        if uids and self.archive is not None:
            stored = {
                found["SOPInstanceUID"]
                for found in self.archive.find("IMAGE", {"SOPInstanceUID": "\\".join(uids)})
            }
            missing = [uid for uid in uids if uid not in stored]
            if missing:
                raise ReportingError("reporting.key_images.not_archived", uids=", ".join(missing))
        with self._write() as conn:
            row = records.report_row(conn, report_id, for_update=True)
            signoff.check_edit(row.status, self.grade(doctor, conn))
            self._take_lock(conn, row, doctor.username)
            conn.execute(
                update(reporting_reports)
                .where(reporting_reports.c.id == report_id)
                .values(
                    key_images=json.dumps([i.as_dict() for i in images], ensure_ascii=False),
                    updated_at=clock.now(),
                )
            )
        return self.report(report_id)

    def set_flags(
        self,
        report_id: int,
        doctor: Doctor,
        *,
        positive: bool | None = None,
        clear_positive: bool = False,
        infectious: bool | None = None,
        teaching: bool | None = None,
        teaching_note: str | None = None,
    ) -> Report:
        """Positive/negative, infectious disease, teaching (typical case) bookmark."""
        values: dict[str, Any] = {}
        if positive is not None or clear_positive:
            values["positive"] = positive
        if infectious is not None:
            values["infectious"] = infectious
        if teaching is not None:
            values["teaching"] = teaching
        if teaching_note is not None:
            values["teaching_note"] = teaching_note[:255]
        with self._write() as conn:
            row = records.report_row(conn, report_id, for_update=True)
            if row.status == S.SIGNED and ({"positive", "infectious"} & values.keys()):
                # Part of the result the HIS received: changed only by an amendment.
                raise Conflict("reporting.flags.signed")
            if values:
                self._record(conn, row, doctor.username, "flags", values, ensure_ascii=True)
        return self.report(report_id)

    # -- quality, follow-up -------------------------------------------------------------------

    def grade_report(self, report_id: int, doctor: Doctor, quality: str) -> Report:
        """The reviewer's grading of the report: excellent, good, fair, poor."""
        if quality not in QUALITY_GRADES:
            raise ReportingError(
                "reporting.quality.invalid", value=quality, allowed=", ".join(QUALITY_GRADES)
            )
        if (self.grade(doctor) or Grade.RESIDENT) == Grade.RESIDENT:
            raise Forbidden("reporting.quality.reviewers_only")
        return self._set(
            report_id,
            doctor.username,
            "grade_report",
            report_quality=quality,
            report_quality_by=doctor.username,
        )

    def grade_images(self, exam_id: int, doctor: Doctor, quality: str) -> Report:
        """Image quality grading by a technician or doctor (creates the report record)."""
        if quality not in QUALITY_GRADES:
            raise ReportingError(
                "reporting.quality.invalid", value=quality, allowed=", ".join(QUALITY_GRADES)
            )
        report = self.start(exam_id, doctor)
        return self._set(
            report.id,
            doctor.username,
            "grade_images",
            image_quality=quality,
            image_quality_by=doctor.username,
        )

    def record_follow_up(
        self,
        report_id: int,
        doctor: Doctor,
        *,
        pathology_result: str | None = None,
        clinical_outcome: str | None = None,
        agreement: str | None = None,
    ) -> Report:
        """Pathology result and clinical outcome, recorded later; whether imaging and pathology
        agree (agree / partly / disagree) as a doctor judged."""
        values: dict[str, Any] = {}
        if pathology_result is not None:
            values["pathology_result"] = pathology_result
        if clinical_outcome is not None:
            values["clinical_outcome"] = clinical_outcome
        if agreement is not None:
            if agreement and agreement not in AGREEMENT:
                raise ReportingError(
                    "reporting.agreement.invalid", value=agreement, allowed=", ".join(AGREEMENT)
                )
            values.update(pathology_agreement=agreement, agreement_by=doctor.username)
        return self._set(report_id, doctor.username, "follow_up", **values)

    def _set(self, report_id: int, username: str, action: str, **values: Any) -> Report:
        with self._write() as conn:
            row = records.report_row(conn, report_id, for_update=True)
            if values:
                self._record(conn, row, username, action, values)
        return self.report(report_id)

    @staticmethod
    def _record(
        conn: Connection,
        row: Any,
        username: str,
        action: str,
        values: dict[str, Any],
        *,
        ensure_ascii: bool = False,
    ) -> None:
        """Change the report's columns and note what changed in its history."""
        conn.execute(
            update(reporting_reports)
            .where(reporting_reports.c.id == row.id)
            .values(**values, updated_at=clock.now())
        )
        detail = json.dumps(values, ensure_ascii=ensure_ascii)[:2000]
        records.add_history(
            conn, row.id, action, username, row.status, row.status, row.version, detail
        )


def locked_by_other(holder: str, expires_at: Any, username: str) -> bool:
    """Whether someone other than ``username`` holds a lock that has not expired."""
    return bool(
        holder and holder != username and expires_at is not None and expires_at > clock.now()
    )


def _typed(spec: TemplateField, value: Any) -> Any:
    if spec.type == "text":
        return str(value)
    if spec.type == "choice":
        if str(value) not in spec.choices:
            raise ReportingError(
                "reporting.fields.choice", label=spec.label, choices="、".join(spec.choices)
            )
        return str(value)
    if spec.type == "number":
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ReportingError("reporting.fields.number", label=spec.label) from None
        if (spec.minimum is not None and number < spec.minimum) or (
            spec.maximum is not None and number > spec.maximum
        ):
            raise ReportingError(
                "reporting.fields.range",
                label=spec.label,
                minimum="" if spec.minimum is None else f"{spec.minimum:g}",
                maximum="" if spec.maximum is None else f"{spec.maximum:g}",
                unit=spec.unit,
            )
        return number
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise ReportingError("reporting.fields.date", label=spec.label) from None
