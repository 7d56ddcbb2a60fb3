"""The reporting domain's public face: what the REST API, the HL7 adapter and the report
output call.

Every method is one transaction; events are published on the bus after the commit. The RIS
exam follows the report through :meth:`Ris.change_status`: submitted -> ``reported``, signed ->
``verified``, rejected -> back to ``completed``, amended -> back to ``reported``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, func, insert, or_, select, update
from sqlalchemy import text as sql
from sqlalchemy.exc import IntegrityError

from core_server import db
from core_server.events import EventBus
from core_server.reporting import records, text, workflow
from core_server.reporting.models import (
    AGREEMENT,
    CRITICAL_VALUE_ACKNOWLEDGED,
    CRITICAL_VALUE_ESCALATED,
    CRITICAL_VALUE_RAISED,
    FIELD_TYPES,
    QUALITY_GRADES,
    REPORT_REJECTED,
    REPORT_REOPENED,
    REPORT_SIGNED,
    REPORT_SUBMITTED,
    TEMPLATE_SCOPES,
    AlertEvent,
    AlertNotice,
    Conflict,
    CriticalAlert,
    Forbidden,
    Grade,
    HistoryEntry,
    KeyImage,
    Locked,
    NotFound,
    Report,
    ReportingError,
    ReportStatus,
    ResultEvent,
    Template,
    TemplateField,
    Version,
    WordCheckFailed,
    WordRule,
    WorklistPage,
    WorklistRow,
)
from core_server.reporting.tables import (
    reporting_alert_events,
    reporting_critical_alerts,
    reporting_default_templates,
    reporting_department_levels,
    reporting_doctor_grades,
    reporting_history,
    reporting_reports,
    reporting_settings,
    reporting_templates,
    reporting_versions,
    reporting_word_rules,
)
from core_server.ris import ExamStatus, Ris
from core_server.ris import NotFound as ExamNotFound

log = logging.getLogger(__name__)
S = ReportStatus

# Settings an administrator may change (name -> default).
SETTINGS: dict[str, int] = {
    "lock_minutes": 10,  # an editing lock not renewed (autosave) for this long is free again
    "default_levels": 2,  # sign-off levels of a department without its own setting
    "critical_escalate_minutes": 10,  # an unacknowledged critical value escalates after this
}
REPORTABLE = (ExamStatus.COMPLETED, ExamStatus.REPORTED, ExamStatus.VERIFIED)
MAX_WORKLIST_DAYS = 62


@dataclass(frozen=True)
class Doctor:
    """Who acts: the signed-in user's name and role (the grade is looked up from both)."""

    username: str
    role: str


@dataclass(frozen=True)
class Content:
    """What an editor sends: any part left None is unchanged."""

    findings: str | None = None
    impression: str | None = None
    fields: dict[str, Any] | None = None
    template_id: int | None = None


# A delivery watcher: looks up what happened to queued notifications and records it (the HL7
# adapter registers one that reads its outbound queue's ACKs).
DeliveryWatcher = Callable[[], None]


class Reporting:
    def __init__(self, engine: Engine, bus: EventBus, ris: Ris, archive: Any = None) -> None:
        self.engine = engine
        self.bus = bus
        self.ris = ris
        self.archive = archive
        self.watchers: list[DeliveryWatcher] = []
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    # -- infrastructure -----------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with db.write(self.engine) as conn:
                _serialize_writes(conn)
                yield conn
        except IntegrityError as exc:
            log.info("reporting write refused by a constraint: %s", exc.orig)
            raise Conflict(
                "记录已被他人同时修改，请重试 / changed by someone else at the same moment; "
                "try again"
            ) from exc

    def setting(self, name: str, conn: Connection | None = None) -> int:
        if name not in SETTINGS:
            raise ReportingError(f"unknown reporting setting {name!r}")
        query = select(reporting_settings.c.value).where(reporting_settings.c.name == name)
        if conn is None:
            with db.read(self.engine) as own:
                value = own.execute(query).scalar()
        else:
            value = conn.execute(query).scalar()
        return int(value) if value is not None else SETTINGS[name]

    def settings(self) -> dict[str, int]:
        return {name: self.setting(name) for name in SETTINGS}

    def change_settings(self, changes: dict[str, int]) -> dict[str, int]:
        for name, value in changes.items():
            if name not in SETTINGS:
                raise ReportingError(f"未知设置 / unknown setting {name!r}")
            low, high = 1, (3 if name == "default_levels" else 24 * 60)
            if not low <= int(value) <= high:
                raise ReportingError(f"{name} 取值 {low}-{high} / {name} is {low} to {high}")
        with self._write() as conn:
            for name, value in changes.items():
                conn.execute(delete(reporting_settings).where(reporting_settings.c.name == name))
                conn.execute(insert(reporting_settings).values(name=name, value=str(int(value))))
        return self.settings()

    # -- doctors and departments --------------------------------------------------------------

    def grade(self, doctor: Doctor, conn: Connection | None = None) -> Grade | None:
        """The doctor's grade: set by an administrator, else resident for reporting doctors and
        attending for reviewing doctors; None for everyone else (they write no reports)."""
        if doctor.role not in workflow.ROLE_GRADES:
            return None
        query = select(reporting_doctor_grades.c.grade).where(
            reporting_doctor_grades.c.username == doctor.username
        )
        if conn is None:
            with db.read(self.engine) as own:
                value = own.execute(query).scalar()
        else:
            value = conn.execute(query).scalar()
        return Grade(value) if value else workflow.ROLE_GRADES[doctor.role]

    def set_grade(self, username: str, grade: str) -> None:
        try:
            Grade(grade)
        except ValueError:
            raise ReportingError(
                f"未知职称 / unknown grade {grade!r}: resident, attending or chief"
            ) from None
        with self._write() as conn:
            conn.execute(
                delete(reporting_doctor_grades).where(
                    reporting_doctor_grades.c.username == username
                )
            )
            conn.execute(insert(reporting_doctor_grades).values(username=username, grade=grade))

    def grades(self) -> dict[str, str]:
        with db.read(self.engine) as conn:
            return {r.username: r.grade for r in conn.execute(select(reporting_doctor_grades))}

    def levels(self, department: str, conn: Connection | None = None) -> int:
        query = select(reporting_department_levels.c.levels).where(
            reporting_department_levels.c.department == department
        )
        if conn is None:
            with db.read(self.engine) as own:
                value = own.execute(query).scalar()
                return int(value) if value else self.setting("default_levels", own)
        value = conn.execute(query).scalar()
        return int(value) if value else self.setting("default_levels", conn)

    def set_levels(self, department: str, levels: int) -> None:
        if levels not in (1, 2, 3):
            raise ReportingError("审核级数为 1、2 或 3 / sign-off levels are 1, 2 or 3")
        with self._write() as conn:
            conn.execute(
                delete(reporting_department_levels).where(
                    reporting_department_levels.c.department == department
                )
            )
            conn.execute(
                insert(reporting_department_levels).values(department=department, levels=levels)
            )

    def department_levels(self) -> dict[str, int]:
        with db.read(self.engine) as conn:
            return {
                r.department: r.levels for r in conn.execute(select(reporting_department_levels))
            }

    # -- reports ------------------------------------------------------------------------------

    def report(self, report_id: int) -> Report:
        with db.read(self.engine) as conn:
            return records.report(records.report_row(conn, report_id))

    def report_for_exam(self, exam_id: int) -> Report | None:
        with db.read(self.engine) as conn:
            row = conn.execute(
                select(reporting_reports).where(reporting_reports.c.exam_id == exam_id)
            ).first()
        return records.report(row) if row is not None else None

    def start(self, exam_id: int, doctor: Doctor) -> Report:
        """The exam's report, created as an empty draft (or from the exam item's default
        template) the first time; only exams that were performed can be reported."""
        found = self.report_for_exam(exam_id)
        if found is not None:
            return found
        try:
            exam = self.ris.exam(exam_id)
        except ExamNotFound as exc:
            raise NotFound(str(exc)) from None
        if exam.status not in REPORTABLE:
            raise Conflict(
                "检查尚未完成，不能书写报告 / the exam is not completed yet: it cannot be reported"
            )
        now = records.now()
        with self._write() as conn:
            template = self._default_template(conn, exam.procedure_code)
            try:
                with conn.begin_nested():
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
                    records.add_history(
                        conn, int(key[0]), "create", doctor.username, "", S.DRAFT, 0
                    )
            except IntegrityError:
                pass  # another editor created it at the same moment: theirs is the one
        found = self.report_for_exam(exam_id)
        assert found is not None
        return found

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
        now = records.now()
        holder, expires = row.lock_holder, records.utc(row.lock_expires_at)
        if holder and holder != username and expires is not None and expires > now and not force:
            raise Locked(
                f"报告正由 {holder} 编辑（锁定至 {expires.astimezone():%H:%M}） / "
                f"{holder} is editing this report (locked until {expires.isoformat()})",
                holder,
                expires,
            )
        if force and holder and holder != username:
            records.add_history(
                conn, row.id, "break_lock", username, row.status, row.status, row.version, holder
            )
        minutes = self.setting("lock_minutes", conn)
        conn.execute(
            update(reporting_reports)
            .where(reporting_reports.c.id == row.id)
            .values(lock_holder=username, lock_expires_at=now + timedelta(minutes=minutes))
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
        grade = self.grade(doctor, conn)
        workflow.check_edit(row.status, grade)
        self._take_lock(conn, row, doctor.username)
        values: dict[str, Any] = {"updated_at": records.now(), "draft_saved_at": records.now()}
        if content.findings is not None:
            values["findings"] = text.sanitize(content.findings)
        if content.impression is not None:
            values["impression"] = text.sanitize(content.impression)
        if content.template_id is not None:
            self._template_row(conn, content.template_id)
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
            .values(version=number, updated_at=records.now())
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
                raise ReportingError("没有结构化模板 / the report has no structured template")
            return {}
        fields = {f.id: f for f in records.template(self._template_row(conn, template_id)).fields}
        out: dict[str, Any] = {}
        for key, value in values.items():
            spec = fields.get(key)
            if spec is None:
                raise ReportingError(f"模板没有字段 {key} / the template has no field {key!r}")
            if value in (None, ""):
                continue
            out[key] = _typed(spec, value)
        if complete:
            missing = [f.label for f in fields.values() if f.required and f.id not in out]
            if missing:
                raise ReportingError(
                    f"必填项未填写：{'、'.join(missing)} / required fields are empty: "
                    + ", ".join(missing)
                )
        return out

    def set_key_images(self, report_id: int, doctor: Doctor, images: list[KeyImage]) -> Report:
        """The key images shown with the report (SOP instance + frame), in order."""
        for image in images:
            if not image.sop_instance_uid or image.frame < 1:
                raise ReportingError(
                    "关键图像需要实例 UID 和帧号 / a key image needs a UID and frame"
                )
        uids = sorted({i.sop_instance_uid for i in images})
        if uids and self.archive is not None:
            stored = {
                found["SOPInstanceUID"]
                for found in self.archive.find("IMAGE", {"SOPInstanceUID": "\\".join(uids)})
            }
            missing = [uid for uid in uids if uid not in stored]
            if missing:
                raise ReportingError(
                    f"关键图像不在存档中 / key images not in the archive: {', '.join(missing)}"
                )
        with self._write() as conn:
            row = records.report_row(conn, report_id, for_update=True)
            workflow.check_edit(row.status, self.grade(doctor, conn))
            self._take_lock(conn, row, doctor.username)
            conn.execute(
                update(reporting_reports)
                .where(reporting_reports.c.id == report_id)
                .values(
                    key_images=json.dumps([i.as_dict() for i in images], ensure_ascii=False),
                    updated_at=records.now(),
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
                raise Conflict(
                    "报告已签发，修改阳性/传染病标记需先修改报告 / the report is signed: amend "
                    "it to change the positive or infectious flag"
                )
            if values:
                values["updated_at"] = records.now()
                conn.execute(
                    update(reporting_reports)
                    .where(reporting_reports.c.id == report_id)
                    .values(values)
                )
                detail = json.dumps({k: v for k, v in values.items() if k != "updated_at"})
                records.add_history(
                    conn,
                    report_id,
                    "flags",
                    doctor.username,
                    row.status,
                    row.status,
                    row.version,
                    detail,
                )
        return self.report(report_id)

    # -- workflow -----------------------------------------------------------------------------

    def check(self, report_id: int) -> list[dict[str, str]]:
        """Forbidden and mutually exclusive words in the report (empty when clean)."""
        report = self.report(report_id)
        rules = self.word_rules(modality=report.modality)
        return text.check_words(
            text.plain(report.findings) + "\n" + text.plain(report.impression), rules
        )

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
        with self._write() as conn:
            row = records.report_row(conn, report_id, for_update=True)
            grade = self.grade(doctor, conn)
            levels = self.levels(row.department, conn)
            old = row.status
            if action == "submit":
                workflow.check_submit(old, grade, levels)
                new = S.SUBMITTED
            elif action == "review":
                workflow.check_review(old, grade, levels, doctor.username, row.author)
                new = S.REVIEWED
            elif action == "sign":
                workflow.check_sign(
                    old, grade, levels, bool(row.emergency), doctor.username, row.author
                )
                new = S.SIGNED
            elif action == "reject":
                workflow.check_reject(old, grade, reason)
                new = S.DRAFT
            else:
                workflow.check_amend(old, grade, reason)
                new = S.DRAFT
            if action in ("submit", "review", "sign"):
                self._take_lock(conn, row, doctor.username)
                self._check_fields(conn, row.template_id, json.loads(row.fields), complete=True)
                if not text.plain(row.findings + row.impression).strip():
                    raise Conflict("报告内容为空 / the report is empty")
                problems = text.check_words(
                    text.plain(row.findings) + "\n" + text.plain(row.impression),
                    self._rules(conn, row.modality),
                )
                if problems:
                    raise WordCheckFailed(
                        "报告含禁用词或互斥词 / the report has forbidden or mutually exclusive "
                        "words: " + "; ".join(p["message"] or p["word"] for p in problems),
                        problems,
                    )
            elif self._locked_by_other(row, doctor.username):
                raise Locked(
                    f"报告正由 {row.lock_holder} 编辑 / {row.lock_holder} is editing this report",
                    row.lock_holder,
                    records.utc(row.lock_expires_at),  # type: ignore[arg-type]
                )
            number = self._keep(conn, row, action, doctor.username, new, reason)
            values: dict[str, Any] = {
                "status": new,
                "levels": 1 if action == "sign" and old == S.DRAFT else levels,
                # The lock goes with the step: the next person in the chain takes it.
                "lock_holder": "",
                "lock_expires_at": None,
            }
            if action == "submit" and not row.author:
                values["author"] = doctor.username
            if action == "sign" and old == S.DRAFT and not row.author:
                values["author"] = doctor.username
            if action == "review":
                values["reviewed_by"] = doctor.username
            if action == "sign":
                values.update(
                    signed_by=doctor.username, signed_at=records.now(), signed_version=number
                )
            if action == "amend":
                values["amendments"] = row.amendments + 1
                # The amendment's author is whoever writes it (first edit or submit).
                values["author"] = ""
                values["reviewed_by"] = ""
            if action == "reject":
                values["reviewed_by"] = ""
            conn.execute(
                update(reporting_reports).where(reporting_reports.c.id == report_id).values(values)
            )
            records.add_history(conn, report_id, action, doctor.username, old, new, number, reason)
        report = self.report(report_id)
        self._follow_in_ris(report, action, old, doctor.username, reason)
        self._announce(report, action, doctor.username, reason)
        return report

    @staticmethod
    def _locked_by_other(row: Any, username: str) -> bool:
        expires = records.utc(row.lock_expires_at)
        return bool(
            row.lock_holder
            and row.lock_holder != username
            and expires is not None
            and expires > records.now()
        )

    def _follow_in_ris(
        self, report: Report, action: str, old: str, username: str, why: str
    ) -> None:
        """Move the RIS exam along: the steps the RIS status machine allows, in order."""
        targets = {
            "submit": [ExamStatus.REPORTED],
            "review": [],
            "sign": [ExamStatus.REPORTED, ExamStatus.VERIFIED],
            "reject": [ExamStatus.COMPLETED],
            "amend": [ExamStatus.REPORTED],
        }[action]
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
                    report.exam_id,
                    target,
                    username=username,
                    reason=why or f"report {action}",
                )
        except Exception:
            # The report's step is committed; the exam status is the RIS's to refuse (logged
            # for the administrator, shown on the exam's history as missing).
            log.exception("report %s: the RIS exam did not follow the %s", report.id, action)

    def _announce(self, report: Report, action: str, username: str, reason: str) -> None:
        payload = {
            "report_id": report.id,
            "exam_id": report.exam_id,
            "accession_number": report.accession_number,
            "version": report.version,
            "username": username,
            "at": report.updated_at.isoformat(),
            "amendments": report.amendments,
            "reason": reason,
        }
        if action == "submit":
            self.bus.publish(REPORT_SUBMITTED, payload)
        elif action == "sign":
            corrected = report.amendments > 0
            self.bus.publish(
                REPORT_SIGNED, payload | {"final": not corrected, "corrected": corrected}
            )
        elif action == "reject":
            self.bus.publish(REPORT_REJECTED, payload)
        elif action == "amend":
            self.bus.publish(REPORT_REOPENED, payload)

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
        raise NotFound(f"报告没有第 {number} 版 / report {report_id} has no version {number}")

    def diff(
        self, report_id: int, number: int | None = None, against: int | None = None
    ) -> dict[str, Any]:
        """What version ``number`` (default: the newest) changed against ``against`` (default:
        the newest earlier version saved by someone else: the previous author's), as runs of
        equal/delete/insert text per part; CJK text is compared character by character."""
        kept = self.versions(report_id)
        if not kept:
            raise NotFound("报告还没有保存的版本 / the report has no saved version yet")
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
        increasing order (:func:`_serialize_writes`)."""
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

    # -- quality, follow-up -------------------------------------------------------------------

    def grade_report(self, report_id: int, doctor: Doctor, quality: str) -> Report:
        """The reviewer's grading of the report: excellent, good, fair, poor."""
        _one_of(quality, QUALITY_GRADES, "报告质量 / report quality")
        if (self.grade(doctor) or Grade.RESIDENT) == Grade.RESIDENT:
            raise Forbidden("报告质量由审核医生评定 / reviewers grade reports")
        return self._set(
            report_id,
            doctor.username,
            "grade_report",
            report_quality=quality,
            report_quality_by=doctor.username,
        )

    def grade_images(self, exam_id: int, doctor: Doctor, quality: str) -> Report:
        """Image quality grading by a technician or doctor (creates the report record)."""
        _one_of(quality, QUALITY_GRADES, "图像质量 / image quality")
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
            if agreement:
                _one_of(agreement, AGREEMENT, "影像病理符合 / agreement")
            values.update(pathology_agreement=agreement, agreement_by=doctor.username)
        return self._set(report_id, doctor.username, "follow_up", **values)

    def _set(self, report_id: int, username: str, action: str, **values: Any) -> Report:
        with self._write() as conn:
            row = records.report_row(conn, report_id, for_update=True)
            if values:
                conn.execute(
                    update(reporting_reports)
                    .where(reporting_reports.c.id == report_id)
                    .values(**values, updated_at=records.now())
                )
                detail = json.dumps(values, ensure_ascii=False)[:2000]
                records.add_history(
                    conn, report_id, action, username, row.status, row.status, row.version, detail
                )
        return self.report(report_id)

    # -- priors and the worklist --------------------------------------------------------------

    def priors(self, report_or_exam: Report | int) -> list[dict[str, Any]]:
        """The patient's other exams, newest first, each with its report (if any)."""
        exam = self.ris.exam(
            report_or_exam.exam_id if isinstance(report_or_exam, Report) else report_or_exam
        )
        others = [
            e
            for e in self.ris.exams(patient_id=exam.patient_id, limit=500)
            if e.issuer == exam.issuer and e.id != exam.id
        ]
        others.sort(key=lambda e: e.scheduled_at or e.created_at, reverse=True)
        with db.read(self.engine) as conn:
            rows = conn.execute(
                select(reporting_reports).where(
                    reporting_reports.c.exam_id.in_([e.id for e in others])
                )
            )
            reports = {r.exam_id: records.report(r) for r in rows}
        out = []
        for e in others:
            report = reports.get(e.id)
            out.append(
                {
                    "exam_id": e.id,
                    "accession_number": e.accession_number,
                    "procedure_name": e.procedure_name,
                    "modality": e.modality,
                    "body_part": e.body_part,
                    "exam_at": (e.scheduled_at or e.created_at).isoformat(),
                    "exam_status": e.status,
                    "studies": list(e.studies),
                    "report": (
                        {
                            "id": report.id,
                            "status": report.status,
                            "findings": report.findings,
                            "impression": report.impression,
                            "signed_by": report.signed_by,
                            "signed_at": report.signed_at.isoformat() if report.signed_at else None,
                            "positive": report.positive,
                        }
                        # Only signed text is shown as a prior; drafts are not results.
                        if report is not None and report.signed_version
                        else None
                    ),
                }
            )
        return out

    def worklist(
        self,
        doctor: Doctor,
        *,
        date_from: date | None = None,
        date_to: date | None = None,
        modality: str = "",
        body_part: str = "",
        status: str = "",
        mine: bool = False,
        id_suffix: str = "",
        age: str = "",
        text_search: str = "",
        critical: bool | None = None,
        limit: int = 200,
        offset: int = 0,
    ) -> WorklistPage:
        """The reporting worklist: performed exams of the chosen days (default the last 7)
        with their report's state, ``limit`` rows from ``offset`` and the count of them all.
        ``status``: ``unreported`` (no report or an empty draft), or a report status.
        ``age``: ``y,20,30`` (years), ``m,0,6`` (months), ``d,0,28`` (days), either bound may
        be empty. ``text_search``: name prefix, pinyin, pinyin initials, patient ID or
        accession number (the RIS's search). ``id_suffix``: last digits of the
        patient ID (doctors share the work by them)."""
        today = date.today()
        date_to = date_to or today
        date_from = date_from or (date_to - timedelta(days=6))
        if date_from > date_to:
            raise ReportingError("开始日期晚于结束日期 / the start date is after the end date")
        if (date_to - date_from).days >= MAX_WORKLIST_DAYS:
            raise ReportingError(
                f"日期范围最多 {MAX_WORKLIST_DAYS} 天 / at most {MAX_WORKLIST_DAYS} days at once"
            )
        ages = _age_range(age)
        exams: list[Any] = []
        day = date_to
        while day >= date_from and len(exams) < 5000:
            exams += self.ris.exams(
                day=day, modality=modality, status=list(REPORTABLE), text=text_search, limit=1000
            )
            day -= timedelta(days=1)
        if body_part:
            exams = [e for e in exams if e.body_part == body_part.upper()]
        if id_suffix:
            exams = [e for e in exams if e.patient_id.endswith(id_suffix)]
        with db.read(self.engine) as conn:
            reports = {
                r.exam_id: records.report(r)
                for r in conn.execute(
                    select(reporting_reports).where(
                        reporting_reports.c.exam_id.in_([e.id for e in exams])
                    )
                )
            }
            keys = {(e.patient_id, e.issuer) for e in exams}
            priors: dict[tuple[str, str], int] = {}
            if keys:
                counted = conn.execute(
                    select(reporting_reports.c.patient_id, reporting_reports.c.issuer, func.count())
                    .where(
                        reporting_reports.c.patient_id.in_({k[0] for k in keys}),
                        reporting_reports.c.signed_version.is_not(None),
                    )
                    .group_by(reporting_reports.c.patient_id, reporting_reports.c.issuer)
                )
                priors = {(p, i): int(n) for p, i, n in counted}
        patients: dict[tuple[str, str], Any] = {}

        def patient_of(e: Any) -> Any:
            key = (e.patient_id, e.issuer)
            if key not in patients:
                try:
                    patients[key] = self.ris.patient(*key)
                except ExamNotFound:
                    patients[key] = None
            return patients[key]

        kept: list[tuple[Any, Report | None]] = []
        for e in exams:
            report = reports.get(e.id)
            report_status = report.status if report else ""
            if status == "unreported":
                if report is not None and (report.version or report.status != S.DRAFT):
                    continue
            elif status and report_status != status:
                continue
            if mine and (
                report is None
                or doctor.username
                not in (report.author, report.reviewed_by, report.signed_by, report.lock_holder)
            ):
                continue
            if critical is not None and bool(report and report.critical) != critical:
                continue
            if ages is not None:
                patient = patient_of(e)
                at = (e.scheduled_at or e.created_at).date()
                if _age(patient.birth_date if patient else None, at, ages) is None:
                    continue
            kept.append((e, report))
        kept.sort(
            key=lambda pair: (
                not pair[0].emergency,
                not (pair[1] is not None and pair[1].critical),
                # Oldest first: the work waiting longest (RIS times are wall-clock, naive).
                (pair[0].scheduled_at or pair[0].created_at).isoformat(),
            )
        )
        # The patient (age, sex) is read only for the rows returned: one RIS read each.
        page = kept[offset : offset + limit]
        return WorklistPage(
            [self._worklist_row(e, report, patient_of(e), priors) for e, report in page],
            total=len(kept),
        )

    def _worklist_row(
        self, e: Any, report: Report | None, patient: Any, priors: dict[tuple[str, str], int]
    ) -> WorklistRow:
        at = e.scheduled_at or e.created_at
        has_own = 1 if report is not None and report.signed_version else 0
        return WorklistRow(
            exam_id=e.id,
            accession_number=e.accession_number,
            patient_id=e.patient_id,
            issuer=e.issuer,
            patient_name=e.patient_name,
            patient_name_pinyin=e.patient_name_pinyin,
            sex=patient.sex if patient else "",
            age=_years(patient.birth_date if patient else None, at.date()),
            modality=e.modality,
            body_part=e.body_part,
            procedure_name=e.procedure_name,
            department=e.department,
            exam_status=e.status,
            exam_at=at,
            emergency=e.emergency,
            report_id=report.id if report else None,
            report_status=report.status if report else "",
            author=report.author if report else "",
            critical=bool(report and report.critical),
            infectious=bool(report and report.infectious),
            positive=report.positive if report else None,
            priors=priors.get((e.patient_id, e.issuer), 0) - has_own,
            images=e.images,
            locked_by=report.lock_holder if report and self._locked_by_other_report(report) else "",
        )

    @staticmethod
    def _locked_by_other_report(report: Report) -> bool:
        return bool(
            report.lock_holder
            and report.lock_expires_at is not None
            and report.lock_expires_at > records.now()
        )

    # -- templates ----------------------------------------------------------------------------

    def templates(
        self,
        username: str,
        *,
        modality: str = "",
        body_part: str = "",
        keyword: str = "",
        department: str = "",
        include_inactive: bool = False,
    ) -> list[Template]:
        """System templates, the department's, and the doctor's own private ones."""
        query = select(reporting_templates).where(
            or_(
                reporting_templates.c.scope == "system",
                and_(
                    reporting_templates.c.scope == "department",
                    reporting_templates.c.department == department
                    if department
                    else reporting_templates.c.scope == "department",
                ),
                and_(
                    reporting_templates.c.scope == "private",
                    reporting_templates.c.owner == username,
                ),
            )
        )
        if not include_inactive:
            query = query.where(reporting_templates.c.active)
        if modality:
            query = query.where(reporting_templates.c.modality.in_([modality, ""]))
        if body_part:
            query = query.where(reporting_templates.c.body_part.in_([body_part.upper(), ""]))
        if keyword:
            like = f"%{keyword}%"
            query = query.where(
                or_(
                    reporting_templates.c.name.like(like),
                    reporting_templates.c.keywords.like(like),
                    reporting_templates.c.findings.like(like),
                    reporting_templates.c.impression.like(like),
                )
            )
        query = query.order_by(
            reporting_templates.c.modality,
            reporting_templates.c.body_part,
            reporting_templates.c.name,
        )
        with db.read(self.engine) as conn:
            return [records.template(r) for r in conn.execute(query)]

    def template(self, template_id: int) -> Template:
        with db.read(self.engine) as conn:
            return records.template(self._template_row(conn, template_id))

    def _template_row(self, conn: Connection, template_id: int) -> Any:
        row = conn.execute(
            select(reporting_templates).where(reporting_templates.c.id == template_id)
        ).first()
        if row is None:
            raise NotFound(f"模板不存在 / no template {template_id}")
        return row

    def save_template(
        self, username: str, template: Template, *, template_id: int | None = None
    ) -> Template:
        """Create (or replace) a template. Who may write which scope is the caller's check
        (administrators: system and department; a doctor: their private ones)."""
        if template.scope not in TEMPLATE_SCOPES:
            raise ReportingError(f"模板范围 / scope is one of {', '.join(TEMPLATE_SCOPES)}")
        if not template.name.strip():
            raise ReportingError("模板需要名称 / a template needs a name")
        ids = [f.id for f in template.fields]
        if len(set(ids)) != len(ids):
            raise ReportingError("模板字段编号重复 / field ids repeat")
        for f in template.fields:
            if f.type not in FIELD_TYPES:
                raise ReportingError(
                    f"字段类型 / field type is one of {', '.join(FIELD_TYPES)}, not {f.type!r}"
                )
            if f.type == "choice" and not f.choices:
                raise ReportingError(f"选择字段需要选项 / choice field {f.id!r} needs choices")
        now = records.now()
        values = {
            "name": template.name.strip(),
            "scope": template.scope,
            "owner": username if template.scope == "private" else "",
            "department": template.department,
            "modality": template.modality.upper(),
            "body_part": template.body_part.upper(),
            "keywords": template.keywords,
            "findings": text.sanitize(template.findings),
            "impression": text.sanitize(template.impression),
            "fields": json.dumps([f.as_dict() for f in template.fields], ensure_ascii=False),
            "active": template.active,
            "updated_at": now,
        }
        with self._write() as conn:
            if template_id is None:
                key = conn.execute(
                    insert(reporting_templates).values(
                        **values, created_by=username, created_at=now
                    )
                ).inserted_primary_key
                assert key is not None
                template_id = int(key[0])
            else:
                existing = records.template(self._template_row(conn, template_id))
                if existing.scope == "private" and existing.owner != username:
                    raise Forbidden("这是他人的私人模板 / this is someone else's private template")
                conn.execute(
                    update(reporting_templates)
                    .where(reporting_templates.c.id == template_id)
                    .values(values)
                )
        return self.template(template_id)

    def save_as_template(
        self, report_id: int, username: str, name: str, keywords: str = ""
    ) -> Template:
        """A doctor keeps a report's text as a private template."""
        report = self.report(report_id)
        fields: tuple[TemplateField, ...] = ()
        if report.template_id is not None:
            fields = self.template(report.template_id).fields
        return self.save_template(
            username,
            Template(
                id=0,
                name=name,
                scope="private",
                owner=username,
                department=report.department,
                modality=report.modality,
                body_part=report.body_part,
                keywords=keywords,
                findings=report.findings,
                impression=report.impression,
                fields=fields,
            ),
        )

    def delete_template(self, template_id: int, username: str, *, admin: bool) -> None:
        """Templates are deactivated, never deleted: reports refer to them."""
        with self._write() as conn:
            existing = records.template(self._template_row(conn, template_id))
            if existing.scope == "private" and existing.owner != username and not admin:
                raise Forbidden("这是他人的私人模板 / this is someone else's private template")
            if existing.scope != "private" and not admin:
                raise Forbidden("系统和科室模板由管理员维护 / administrators keep shared templates")
            conn.execute(
                update(reporting_templates)
                .where(reporting_templates.c.id == template_id)
                .values(active=False, updated_at=records.now())
            )

    def set_default_template(self, procedure_code: str, template_id: int | None) -> None:
        with self._write() as conn:
            conn.execute(
                delete(reporting_default_templates).where(
                    reporting_default_templates.c.procedure_code == procedure_code
                )
            )
            if template_id is not None:
                self._template_row(conn, template_id)
                conn.execute(
                    insert(reporting_default_templates).values(
                        procedure_code=procedure_code, template_id=template_id
                    )
                )

    def default_templates(self) -> dict[str, int]:
        with db.read(self.engine) as conn:
            return {
                r.procedure_code: r.template_id
                for r in conn.execute(select(reporting_default_templates))
            }

    # -- word rules ---------------------------------------------------------------------------

    def word_rules(self, *, modality: str = "") -> list[WordRule]:
        with db.read(self.engine) as conn:
            return self._rules(conn, modality)

    def _rules(self, conn: Connection, modality: str) -> list[WordRule]:
        query = select(reporting_word_rules).order_by(reporting_word_rules.c.id)
        if modality:
            query = query.where(reporting_word_rules.c.modality.in_([modality, ""]))
        return [records.word_rule(r) for r in conn.execute(query)]

    def add_word_rule(
        self, kind: str, word: str, *, other: str = "", message: str = "", modality: str = ""
    ) -> WordRule:
        word, other = word.strip(), other.strip()
        if kind not in ("forbidden", "exclusive"):
            raise ReportingError(
                "规则类型为 forbidden 或 exclusive / kind is forbidden or exclusive"
            )
        if not word or (kind == "exclusive" and not other):
            raise ReportingError("互斥词需要两个词 / an exclusive rule needs two words")
        with self._write() as conn:
            key = conn.execute(
                insert(reporting_word_rules).values(
                    kind=kind,
                    word=word,
                    other=other if kind == "exclusive" else "",
                    message=message,
                    modality=modality.upper(),
                )
            ).inserted_primary_key
            assert key is not None
            row = conn.execute(
                select(reporting_word_rules).where(reporting_word_rules.c.id == key[0])
            ).one()
        return records.word_rule(row)

    def delete_word_rule(self, rule_id: int) -> None:
        with self._write() as conn:
            gone = conn.execute(
                delete(reporting_word_rules).where(reporting_word_rules.c.id == rule_id)
            ).rowcount
        if not gone:
            raise NotFound(f"规则不存在 / no word rule {rule_id}")

    # -- critical values ----------------------------------------------------------------------

    def raise_critical(self, report_id: int, doctor: Doctor, description: str) -> CriticalAlert:
        """Flag a critical value (危急值): the report is marked, an alert opens, the HIS is told
        (the HL7 adapter subscribes to the event), and it escalates until acknowledged."""
        if not description.strip():
            raise ReportingError("危急值需要描述 / a critical value needs a description")
        if self.grade(doctor) is None:
            raise Forbidden("只有医生可以上报危急值 / only doctors raise critical values")
        now = records.now()
        with self._write() as conn:
            records.report_row(conn, report_id, for_update=True)
            minutes = self.setting("critical_escalate_minutes", conn)
            key = conn.execute(
                insert(reporting_critical_alerts).values(
                    report_id=report_id,
                    description=description.strip(),
                    raised_by=doctor.username,
                    raised_at=now,
                    status="open",
                    next_escalation_at=now + timedelta(minutes=minutes),
                )
            ).inserted_primary_key
            assert key is not None
            alert_id = int(key[0])
            records.add_alert_event(conn, alert_id, "raised", doctor.username, description.strip())
            conn.execute(
                update(reporting_reports)
                .where(reporting_reports.c.id == report_id)
                .values(critical=True, updated_at=now)
            )
        alert = self.alert(alert_id)
        self.bus.publish(CRITICAL_VALUE_RAISED, self._alert_payload(alert))
        return alert

    def _alert_payload(self, alert: CriticalAlert) -> dict[str, Any]:
        return {
            "alert_id": alert.id,
            "report_id": alert.report_id,
            "exam_id": alert.exam_id,
            "accession_number": alert.accession_number,
            "patient_id": alert.patient_id,
            "description": alert.description,
            "raised_by": alert.raised_by,
            "level": alert.escalation_level,
        }

    def alert(self, alert_id: int) -> CriticalAlert:
        with db.read(self.engine) as conn:
            row = records.alert_row(conn, alert_id)
            return records.alert(
                row, records.report_row(conn, row.report_id), records.alert_chain(conn, alert_id)
            )

    def alerts(
        self, *, status: str = "", report_id: int | None = None, limit: int = 200
    ) -> list[CriticalAlert]:
        """Alerts, newest first: ``open`` ones are the list clinicians work through."""
        r = reporting_reports.c
        query = (
            select(
                reporting_critical_alerts,
                r.exam_id,
                r.accession_number,
                r.patient_id,
                r.patient_name,
                r.department,
            )
            .join(reporting_reports, r.id == reporting_critical_alerts.c.report_id)
            .order_by(reporting_critical_alerts.c.id.desc())
            .limit(limit)
        )
        if status:
            query = query.where(reporting_critical_alerts.c.status == status)
        if report_id is not None:
            query = query.where(reporting_critical_alerts.c.report_id == report_id)
        with db.read(self.engine) as conn:
            rows = conn.execute(query).all()
            chains: dict[int, list[AlertEvent]] = {row.id: [] for row in rows}
            if chains:
                events = conn.execute(
                    select(reporting_alert_events)
                    .where(reporting_alert_events.c.alert_id.in_(list(chains)))
                    .order_by(reporting_alert_events.c.id)
                )
                for event in events:
                    chains[event.alert_id].append(records.alert_event(event))
        # The joined row carries the report's columns under their own names.
        return [records.alert(row, row, chains[row.id]) for row in rows]

    def acknowledge(self, alert_id: int, username: str, note: str = "") -> CriticalAlert:
        """A clinician confirms having received the critical value (and what was done)."""
        now = records.now()
        with self._write() as conn:
            row = records.alert_row(conn, alert_id)
            if row.status == "acknowledged":
                raise Conflict(
                    f"危急值已由 {row.acknowledged_by} 确认 / already acknowledged by "
                    f"{row.acknowledged_by}"
                )
            conn.execute(
                update(reporting_critical_alerts)
                .where(reporting_critical_alerts.c.id == alert_id)
                .values(
                    status="acknowledged",
                    acknowledged_by=username,
                    acknowledged_at=now,
                    acknowledgement=note,
                    next_escalation_at=None,
                )
            )
            records.add_alert_event(conn, alert_id, "acknowledged", username, note)
        alert = self.alert(alert_id)
        self.bus.publish(
            CRITICAL_VALUE_ACKNOWLEDGED,
            self._alert_payload(alert) | {"acknowledged_by": username, "note": note},
        )
        return alert

    def record_alert_event(
        self,
        alert_id: int,
        kind: str,
        *,
        username: str = "",
        detail: str = "",
        ref: str = "",
        conn: Connection | None = None,
    ) -> None:
        """A link of the chain recorded by whoever carries the alert: ``queued`` (the HL7 job
        id in ``ref``), ``delivered`` (its ACK), ``failed`` (a dead letter). With ``conn``, in
        the caller's transaction (the HL7 adapter records ``queued`` in the one that queues)."""
        if kind not in ("queued", "delivered", "failed"):
            raise ReportingError(f"unknown alert event {kind!r}")
        if conn is not None:
            records.alert_row(conn, alert_id)
            records.add_alert_event(conn, alert_id, kind, username, detail, ref)
            return
        with self._write() as own:
            records.alert_row(own, alert_id)
            records.add_alert_event(own, alert_id, kind, username, detail, ref)

    def undelivered(self) -> list[tuple[int, str]]:
        """(alert id, ref) of queued notifications with no delivery or failure recorded yet:
        of alerts still open or raised in the last days (the outbound queue settles a message
        within hours, retries and dead letter included), so the ticker's look stays small."""
        recent = select(reporting_critical_alerts.c.id).where(
            or_(
                reporting_critical_alerts.c.status == "open",
                reporting_critical_alerts.c.raised_at >= records.now() - timedelta(days=3),
            )
        )
        with db.read(self.engine) as conn:
            rows = conn.execute(
                select(
                    reporting_alert_events.c.alert_id,
                    reporting_alert_events.c.ref,
                    reporting_alert_events.c.kind,
                )
                .where(
                    reporting_alert_events.c.kind.in_(["queued", "delivered", "failed"]),
                    reporting_alert_events.c.alert_id.in_(recent),
                )
                .order_by(reporting_alert_events.c.id)
            )
            waiting: dict[tuple[int, str], None] = {}
            for alert_id, ref, kind in rows:
                if kind == "queued":
                    waiting[(alert_id, ref)] = None
                else:
                    waiting.pop((alert_id, ref), None)
        return list(waiting)

    def alert_notices(self, after: int = 0, limit: int = 100) -> list[AlertNotice]:
        """Critical values raised or escalated after ``event_id`` ``after``, oldest first: the
        outbox of critical-value messages (as :meth:`result_events` is of results)."""
        e = reporting_alert_events.c
        with db.read(self.engine) as conn:
            rows = conn.execute(
                select(e.id, e.alert_id, e.kind)
                .where(e.id > after, e.kind.in_(["raised", "escalated"]))
                .order_by(e.id)
                .limit(limit)
            ).all()
            notices = []
            for row in rows:
                level = 0
                if row.kind == "escalated":  # the how-many-th escalation of its alert
                    level = conn.execute(
                        select(func.count()).where(
                            e.alert_id == row.alert_id, e.kind == "escalated", e.id <= row.id
                        )
                    ).scalar_one()
                notices.append(AlertNotice(row.id, row.alert_id, row.kind, int(level)))
        return notices

    def escalate_due(self, now: datetime | None = None) -> list[CriticalAlert]:
        """Escalate open alerts past their time: recorded, published (the HL7 adapter sends
        the alert again), and due again after the same interval until acknowledged."""
        now = now or records.now()
        escalated: list[int] = []
        with self._write() as conn:
            minutes = self.setting("critical_escalate_minutes", conn)
            due = conn.execute(
                select(reporting_critical_alerts).where(
                    reporting_critical_alerts.c.status == "open",
                    reporting_critical_alerts.c.next_escalation_at <= now,
                )
            ).all()
            for row in due:
                level = row.escalation_level + 1
                taken = conn.execute(
                    update(reporting_critical_alerts)
                    .where(
                        reporting_critical_alerts.c.id == row.id,
                        reporting_critical_alerts.c.escalation_level == row.escalation_level,
                    )
                    .values(
                        escalation_level=level,
                        next_escalation_at=now + timedelta(minutes=minutes),
                    )
                ).rowcount
                if taken:
                    records.add_alert_event(
                        conn,
                        row.id,
                        "escalated",
                        "system",
                        f"未在 {minutes} 分钟内确认，第 {level} 次升级 / not acknowledged within "
                        f"{minutes} min: escalation {level}",
                    )
                    escalated.append(row.id)
        alerts = [self.alert(a) for a in escalated]
        for alert in alerts:
            self.bus.publish(CRITICAL_VALUE_ESCALATED, self._alert_payload(alert))
        return alerts

    # -- background ---------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> None:
        """One round of background work: escalations, then delivery watchers."""
        self.escalate_due(now)
        for watch in list(self.watchers):
            try:
                watch()
            except Exception:
                log.exception("critical-value delivery watcher failed")

    def start_background(self, interval: float = 5.0) -> None:
        self._stop.clear()

        def run() -> None:
            while not self._stop.wait(interval):
                try:
                    self.tick()
                except Exception:
                    log.exception("reporting ticker failed")

        self._ticker = threading.Thread(target=run, name="reporting-ticker", daemon=True)
        self._ticker.start()

    def stop_background(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=10)
            self._ticker = None


# Any fixed 64-bit key: the PostgreSQL advisory lock every reporting write transaction takes.
_WRITE_LOCK = 0x52505457  # "RPTW"


def _serialize_writes(conn: Connection) -> None:
    """One reporting write transaction at a time on PostgreSQL, as SQLite's BEGIN IMMEDIATE.

    The workflow history and the alert events are outboxes read by cursor
    (:meth:`Reporting.result_events`, :meth:`Reporting.alert_notices`): an id taken by a
    transaction that commits after a higher one would be skipped by a reader already past it.
    Taken first, before any row lock, it cannot deadlock with them."""
    if conn.dialect.name == "postgresql":
        conn.execute(sql("SELECT pg_advisory_xact_lock(:key)"), {"key": _WRITE_LOCK})


def _one_of(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ReportingError(f"{what}: {value!r} is not one of {', '.join(allowed)}")


def _typed(spec: TemplateField, value: Any) -> Any:
    label = f"「{spec.label}」"
    if spec.type == "text":
        return str(value)
    if spec.type == "choice":
        if str(value) not in spec.choices:
            raise ReportingError(
                f"{label}只能选 {'、'.join(spec.choices)} / {spec.id!r} is one of the choices"
            )
        return str(value)
    if spec.type == "number":
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ReportingError(f"{label}应为数字 / {spec.id!r} is a number") from None
        if (spec.minimum is not None and number < spec.minimum) or (
            spec.maximum is not None and number > spec.maximum
        ):
            raise ReportingError(
                f"{label}超出范围 {spec.minimum}-{spec.maximum}{spec.unit} / {spec.id!r} is out "
                "of range"
            )
        return number
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise ReportingError(f"{label}应为日期 YYYY-MM-DD / {spec.id!r} is a date") from None


def _age_range(spec: str) -> tuple[str, int | None, int | None] | None:
    """``y,20,30`` -> ("y", 20, 30); unit y (years), m (months) or d (days)."""
    if not spec:
        return None
    parts = [p.strip() for p in spec.split(",")]
    if len(parts) != 3 or parts[0].lower() not in ("y", "m", "d"):
        raise ReportingError(
            "年龄范围写作 y,20,30（岁）、m,0,6（月）或 d,0,28（天） / age is y|m|d,from,to"
        )
    try:
        low = int(parts[1]) if parts[1] else None
        high = int(parts[2]) if parts[2] else None
    except ValueError:
        raise ReportingError("年龄应为整数 / ages are whole numbers") from None
    return parts[0].lower(), low, high


def _years(birth: date | None, on: date) -> int | None:
    if birth is None:
        return None
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _age(
    birth: date | None, on: date, spec: tuple[str, int | None, int | None] | None
) -> int | None:
    """The age in the spec's unit when it is within the range (None when outside or unknown)."""
    if spec is None or birth is None:
        return None
    unit, low, high = spec
    if unit == "y":
        value = _years(birth, on)
    elif unit == "m":
        value = (on.year - birth.year) * 12 + on.month - birth.month - (on.day < birth.day)
    else:
        value = (on - birth).days
    assert value is not None
    if (low is not None and value < low) or (high is not None and value > high):
        return None
    return value
