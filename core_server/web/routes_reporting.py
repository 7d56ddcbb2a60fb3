"""The reporting REST API (``/api/reporting/...``) for the worklist and report editor pages,
the clinicians' views and the administrators' configuration.

Roles: reporting doctors write, reviewing doctors review and sign (their grade, resident /
attending / chief, decides the step), administrators configure and may break a lock,
clinicians read signed reports and acknowledge critical values, technicians grade image
quality. Errors: 400 invalid input, 403 a step the user's grade may not take, 404 unknown,
409 a state conflict (``detail.holder`` names who holds the lock), 422 forbidden or mutually
exclusive words (``detail.problems``); messages in Chinese and English.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, Field

from core_server import auth
from core_server.reporting import (
    Conflict,
    Content,
    CriticalAlert,
    Doctor,
    Forbidden,
    HistoryEntry,
    KeyImage,
    Locked,
    NotFound,
    Report,
    Reporting,
    ReportingError,
    Template,
    TemplateField,
    Version,
    WordCheckFailed,
    WordRule,
    WorklistRow,
)
from core_server.web.security import audit, require

router = APIRouter(prefix="/api/reporting", tags=["reporting"])

DOCTORS = ("reporting_doctor", "reviewing_doctor")
READERS = (*DOCTORS, "admin")
ALERT_READERS = (*READERS, "clinician")
GRADERS = (*DOCTORS, "technician")

Writer = Annotated[auth.User, Depends(require(*DOCTORS))]
Reviewer = Annotated[auth.User, Depends(require("reviewing_doctor"))]
Reader = Annotated[auth.User, Depends(require(*READERS))]
ReportReader = Annotated[auth.User, Depends(require(*READERS, "clinician"))]
AlertReader = Annotated[auth.User, Depends(require(*ALERT_READERS))]
Clinician = Annotated[auth.User, Depends(require("clinician"))]
ImageGrader = Annotated[auth.User, Depends(require(*GRADERS))]
Admin = Annotated[auth.User, Depends(require("admin"))]
TemplateWriter = Annotated[auth.User, Depends(require(*DOCTORS, "admin"))]


def _reporting(request: Request) -> Reporting:
    reporting = request.app.state.ctx.reporting
    if reporting is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "reporting not configured")
    return reporting  # type: ignore[no-any-return]


def _doctor(user: auth.User) -> Doctor:
    return Doctor(user.username, user.role)


@contextmanager
def _answers() -> Iterator[None]:
    """Domain refusals as HTTP answers."""
    try:
        yield
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except Locked as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            {"message": str(exc), "holder": exc.holder, "expires_at": exc.expires_at.isoformat()},
        ) from None
    except Conflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except Forbidden as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    except WordCheckFailed as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, {"message": str(exc), "problems": exc.problems}
        ) from None
    except ReportingError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None


def _audit(request: Request, user: auth.User, action: str, target: str, **detail: Any) -> None:
    audit(request, user, action, target, detail)


def _out(report: Report, user: auth.User, reporting: Reporting) -> dict[str, Any]:
    """A report as the user may see it: clinicians get the last signed text only."""
    if user.role != "clinician":
        return report.as_dict()
    if report.signed_version is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "报告尚未签发 / the report is not signed yet"
        )
    signed = reporting.version(report.id, report.signed_version)
    # Internal working state is blanked for clinicians (the keys stay: one response model).
    hidden = {
        "lock_holder": "",
        "lock_expires_at": None,
        "report_quality": "",
        "report_quality_by": "",
    }
    return (
        report.as_dict()
        | hidden
        | {
            "findings": signed.findings,
            "impression": signed.impression,
            "fields": signed.fields,
            "version": signed.number,
            # While an amendment is being written the clinician still reads the signed text.
            "status": "signed",
        }
    )


# -- bodies -------------------------------------------------------------------------------------


class ContentBody(BaseModel):
    """The editor's text; parts left out are unchanged. HTML is sanitised (b, i, u, sub, sup,
    p, br, lists kept)."""

    findings: str | None = Field(None, description="检查所见, HTML")
    impression: str | None = Field(None, description="诊断意见, HTML")
    fields: dict[str, Any] | None = Field(None, description="structured answers: field id -> value")
    template_id: int | None = None

    def domain(self) -> Content:
        return Content(**self.model_dump())


class ReasonBody(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class FlagsBody(BaseModel):
    positive: bool | None = Field(None, description="阳性 true / 阴性 false")
    clear_positive: bool = Field(False, description="set positive back to unknown")
    infectious: bool | None = Field(None, description="传染病")
    teaching: bool | None = Field(None, description="典型病例 / teaching file bookmark")
    teaching_note: str | None = Field(None, max_length=255)


class KeyImageBody(BaseModel):
    study_uid: str = Field(max_length=64)
    series_uid: str = Field(max_length=64)
    sop_instance_uid: str = Field(min_length=1, max_length=64)
    frame: int = Field(1, ge=1)
    note: str = Field("", max_length=255)


class QualityBody(BaseModel):
    quality: Literal["excellent", "good", "fair", "poor"]


class FollowUpBody(BaseModel):
    pathology_result: str | None = Field(None, description="病理结果")
    clinical_outcome: str | None = Field(None, description="临床随访结果")
    agreement: Literal["agree", "partly", "disagree", ""] | None = Field(
        None, description="影像与病理: 符合 / 部分符合 / 不符合"
    )


class CriticalBody(BaseModel):
    description: str = Field(min_length=1, max_length=2000, description="危急值内容")


class AcknowledgeBody(BaseModel):
    note: str = Field("", max_length=2000, description="处理措施 / action taken")


class FieldBody(BaseModel):
    id: str = Field(min_length=1, max_length=64)
    label: str = Field(min_length=1, max_length=128)
    type: Literal["text", "choice", "number", "date"]
    choices: list[str] = []
    unit: str = ""
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None


class TemplateBody(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    scope: Literal["system", "department", "private"] = "private"
    department: str = ""
    modality: str = ""
    body_part: str = ""
    keywords: str = ""
    findings: str = ""
    impression: str = ""
    fields: list[FieldBody] = []
    active: bool = True

    def domain(self) -> Template:
        values = self.model_dump(exclude={"fields"})
        return Template(
            id=0,
            owner="",
            fields=tuple(
                TemplateField(**f.model_dump() | {"choices": tuple(f.choices)}) for f in self.fields
            ),
            **values,
        )


class SaveAsTemplateBody(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    keywords: str = ""


class WordRuleBody(BaseModel):
    kind: Literal["forbidden", "exclusive"]
    word: str = Field(min_length=1, max_length=64)
    other: str = Field("", max_length=64)
    message: str = Field("", max_length=255)
    modality: str = Field("", max_length=16)


class DefaultTemplateBody(BaseModel):
    template_id: int | None


class LevelsBody(BaseModel):
    levels: int = Field(ge=1, le=3)


class GradeBody(BaseModel):
    grade: Literal["resident", "attending", "chief"]


# -- worklist and reports -----------------------------------------------------------------------


@router.get("/worklist", response_model=list[WorklistRow])
def worklist(
    request: Request,
    response: Response,
    user: Reader,
    date_from: date | None = None,
    date_to: date | None = None,
    modality: str = "",
    body_part: str = "",
    report_status: Annotated[
        str, Query(description="unreported, draft, submitted, reviewed, signed")
    ] = "",
    mine: bool = False,
    id_suffix: Annotated[str, Query(max_length=16, description="last digits of the ID")] = "",
    age: Annotated[str, Query(description="y,20,30 | m,0,6 | d,0,28")] = "",
    q: Annotated[str, Query(description="name, pinyin, initials, ID or accession")] = "",
    critical: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    """Performed exams of the chosen days (default the last seven) with their report state,
    emergencies and critical values first, ``limit`` from ``offset``; ``X-Total-Count``: the
    rows of all pages. ``priors``: the patient's other signed reports."""
    with _answers():
        page = _reporting(request).worklist(
            _doctor(user),
            date_from=date_from,
            date_to=date_to,
            modality=modality,
            body_part=body_part,
            status=report_status,
            mine=mine,
            id_suffix=id_suffix,
            age=age,
            text_search=q,
            critical=critical,
            limit=limit,
            offset=offset,
        )
    response.headers["X-Total-Count"] = str(page.total)
    return [r.as_dict() for r in page.rows]


@router.post("/exams/{exam_id}/report", response_model=Report)
def start_report(
    request: Request, exam_id: int, user: Writer, response: Response
) -> dict[str, Any]:
    """The exam's report, created (201) as a draft from the exam item's default template the
    first time; 200 with the existing one afterwards."""
    reporting = _reporting(request)
    with _answers():
        existed = reporting.report_for_exam(exam_id) is not None
        report = reporting.start(exam_id, _doctor(user))
    response.status_code = status.HTTP_200_OK if existed else status.HTTP_201_CREATED
    return report.as_dict()


@router.get("/exams/{exam_id}/report", response_model=Report)
def exam_report(request: Request, exam_id: int, user: ReportReader) -> dict[str, Any]:
    reporting = _reporting(request)
    with _answers():
        report = reporting.report_for_exam(exam_id)
        if report is None:
            raise NotFound(f"该检查还没有报告 / exam {exam_id} has no report")
        return _out(report, user, reporting)


class ImageQuality(BaseModel):
    quality: str = Field(description="excellent, good, fair, poor; empty when not graded yet")
    graded_by: str = ""


@router.get("/exams/{exam_id}/image-quality", response_model=ImageQuality)
def image_quality(request: Request, exam_id: int, user: ImageGrader) -> dict[str, Any]:
    """The exam's image quality grade, for the technician's list (which may not read reports)."""
    with _answers():
        report = _reporting(request).report_for_exam(exam_id)
    if report is None:
        return {"quality": "", "graded_by": ""}
    return {"quality": report.image_quality, "graded_by": report.image_quality_by}


@router.put("/exams/{exam_id}/image-quality", response_model=Report)
def grade_images(
    request: Request, exam_id: int, body: QualityBody, user: ImageGrader
) -> dict[str, Any]:
    """Image quality (甲/乙/丙/丁: excellent, good, fair, poor) by a technician or doctor."""
    with _answers():
        return _reporting(request).grade_images(exam_id, _doctor(user), body.quality).as_dict()


@router.get("/reports/{report_id}", response_model=Report)
def get_report(request: Request, report_id: int, user: ReportReader) -> dict[str, Any]:
    reporting = _reporting(request)
    with _answers():
        return _out(reporting.report(report_id), user, reporting)


@router.post("/reports/{report_id}/lock", response_model=Report)
def lock(request: Request, report_id: int, user: Writer) -> dict[str, Any]:
    """Take or renew the editing lock (409 with ``holder`` while another doctor edits)."""
    with _answers():
        return _reporting(request).lock(report_id, user.username).as_dict()


@router.delete("/reports/{report_id}/lock", response_model=Report)
def unlock(request: Request, report_id: int, user: Writer) -> dict[str, Any]:
    """Give the lock back when closing the editor."""
    with _answers():
        return _reporting(request).unlock(report_id, user.username).as_dict()


@router.post("/reports/{report_id}/lock/break", response_model=Report)
def break_lock(request: Request, report_id: int, user: Admin) -> dict[str, Any]:
    """An administrator frees a report held by someone who went away (recorded)."""
    reporting = _reporting(request)
    with _answers():
        holder = reporting.report(report_id).lock_holder
        report = reporting.lock(report_id, user.username, force=True)
        report = reporting.unlock(report_id, user.username)
    _audit(request, user, "reporting.lock.break", str(report_id), holder=holder)
    return report.as_dict()


@router.put("/reports/{report_id}/draft")
def autosave(request: Request, report_id: int, body: ContentBody, user: Writer) -> dict[str, Any]:
    """Autosave (every few seconds): the working copy, and the lock renewed. Cheap; keeps no
    version."""
    with _answers():
        report = _reporting(request).autosave(report_id, _doctor(user), body.domain())
    return {
        "id": report.id,
        "status": report.status,
        "draft_saved_at": report.draft_saved_at.isoformat() if report.draft_saved_at else None,
        "lock_expires_at": report.lock_expires_at.isoformat() if report.lock_expires_at else None,
    }


@router.post("/reports/{report_id}/versions", status_code=201, response_model=Report)
def save(request: Request, report_id: int, body: ContentBody, user: Writer) -> dict[str, Any]:
    """An explicit save: the text becomes a kept version."""
    with _answers():
        return _reporting(request).save(report_id, _doctor(user), body.domain()).as_dict()


@router.get("/reports/{report_id}/versions", response_model=list[Version])
def versions(request: Request, report_id: int, _user: Reader) -> list[dict[str, Any]]:
    with _answers():
        return [v.as_dict() for v in _reporting(request).versions(report_id)]


@router.get("/reports/{report_id}/versions/{number}", response_model=Version)
def version(request: Request, report_id: int, number: int, _user: Reader) -> dict[str, Any]:
    with _answers():
        return _reporting(request).version(report_id, number).as_dict()


@router.get("/reports/{report_id}/diff")
def diff(
    request: Request,
    report_id: int,
    _user: Reader,
    number: int | None = None,
    against: int | None = None,
) -> dict[str, Any]:
    """Version ``number`` (default newest) against ``against`` (default: the previous
    author's version): ``findings`` and ``impression`` as runs ``{op: equal|delete|insert,
    text}``, Chinese compared character by character."""
    with _answers():
        return _reporting(request).diff(report_id, number, against)


@router.get("/reports/{report_id}/history", response_model=list[HistoryEntry])
def history(request: Request, report_id: int, _user: Reader) -> list[dict[str, Any]]:
    with _answers():
        _reporting(request).report(report_id)
        return [h.as_dict() for h in _reporting(request).history(report_id)]


@router.get("/reports/{report_id}/check")
def check(request: Request, report_id: int, _user: Writer) -> list[dict[str, str]]:
    """Forbidden and mutually exclusive words in the saved text (also checked on submit and
    sign)."""
    with _answers():
        return _reporting(request).check(report_id)


def _step(request: Request, report_id: int, user: auth.User, action: str, **kw: Any) -> Any:
    reporting = _reporting(request)
    with _answers():
        report = getattr(reporting, action)(report_id, _doctor(user), **kw)
    if action in ("sign", "amend", "reject"):
        _audit(
            request,
            user,
            f"reporting.report.{action}",
            report.accession_number,
            report_id=report_id,
            version=report.version,
            reason=kw.get("reason", ""),
        )
    return report.as_dict()


@router.post("/reports/{report_id}/submit", response_model=Report)
def submit(
    request: Request, report_id: int, user: Writer, body: ContentBody | None = None
) -> dict[str, Any]:
    """Draft -> submitted (the exam becomes "reported"; HL7 ORU OBR-25 P)."""
    return _step(request, report_id, user, "submit", content=body.domain() if body else None)


@router.post("/reports/{report_id}/review", response_model=Report)
def review(
    request: Request, report_id: int, user: Writer, body: ContentBody | None = None
) -> dict[str, Any]:
    """Three-level departments: an attending reviews a submitted report."""
    return _step(request, report_id, user, "review", content=body.domain() if body else None)


@router.post("/reports/{report_id}/sign", response_model=Report)
def sign(
    request: Request, report_id: int, user: Writer, body: ContentBody | None = None
) -> dict[str, Any]:
    """Sign: final (OBR-25 F), or corrected (C) after an amendment; the exam becomes
    "verified". Emergency reports and one-level departments are signed from the draft."""
    return _step(request, report_id, user, "sign", content=body.domain() if body else None)


@router.post("/reports/{report_id}/reject", response_model=Report)
def reject(request: Request, report_id: int, body: ReasonBody, user: Writer) -> dict[str, Any]:
    """Back to the author with a reason."""
    return _step(request, report_id, user, "reject", reason=body.reason)


@router.post("/reports/{report_id}/amend", response_model=Report)
def amend(request: Request, report_id: int, body: ReasonBody, user: Writer) -> dict[str, Any]:
    """Reopen a signed report for correction; the signed version is kept."""
    return _step(request, report_id, user, "amend", reason=body.reason)


@router.put("/reports/{report_id}/flags", response_model=Report)
def flags(request: Request, report_id: int, body: FlagsBody, user: Writer) -> dict[str, Any]:
    with _answers():
        return (
            _reporting(request).set_flags(report_id, _doctor(user), **body.model_dump()).as_dict()
        )


@router.put("/reports/{report_id}/key-images", response_model=Report)
def key_images(
    request: Request, report_id: int, body: list[KeyImageBody], user: Writer
) -> dict[str, Any]:
    """The key images, in order (replaces the list)."""
    images = [KeyImage(**i.model_dump()) for i in body]
    with _answers():
        return _reporting(request).set_key_images(report_id, _doctor(user), images).as_dict()


@router.put("/reports/{report_id}/report-quality", response_model=Report)
def grade_report(
    request: Request, report_id: int, body: QualityBody, user: Reviewer
) -> dict[str, Any]:
    with _answers():
        return _reporting(request).grade_report(report_id, _doctor(user), body.quality).as_dict()


@router.put("/reports/{report_id}/follow-up", response_model=Report)
def follow_up(request: Request, report_id: int, body: FollowUpBody, user: Writer) -> dict[str, Any]:
    with _answers():
        return (
            _reporting(request)
            .record_follow_up(report_id, _doctor(user), **body.model_dump())
            .as_dict()
        )


@router.get("/reports/{report_id}/priors")
def priors(request: Request, report_id: int, _user: Reader) -> list[dict[str, Any]]:
    """The patient's other exams, newest first, with their signed reports."""
    reporting = _reporting(request)
    with _answers():
        return reporting.priors(reporting.report(report_id))


@router.post("/reports/{report_id}/template", status_code=201, response_model=Template)
def save_as_template(
    request: Request, report_id: int, body: SaveAsTemplateBody, user: Writer
) -> dict[str, Any]:
    """Keep this report's text as the doctor's private template."""
    with _answers():
        return (
            _reporting(request)
            .save_as_template(report_id, user.username, body.name, body.keywords)
            .as_dict()
        )


# -- critical values ----------------------------------------------------------------------------


@router.post("/reports/{report_id}/critical", status_code=201, response_model=CriticalAlert)
def raise_critical(
    request: Request, report_id: int, body: CriticalBody, user: Writer
) -> dict[str, Any]:
    """Flag a critical value: the HIS is told over HL7, and the alert escalates until a
    clinician acknowledges it."""
    with _answers():
        alert = _reporting(request).raise_critical(report_id, _doctor(user), body.description)
    _audit(request, user, "reporting.critical.raise", alert.accession_number, alert_id=alert.id)
    return alert.as_dict()


@router.get("/critical-alerts", response_model=list[CriticalAlert])
def alerts(
    request: Request,
    _user: AlertReader,
    alert_status: Annotated[str, Query(alias="status", description="open, acknowledged")] = "",
    report_id: int | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """The alert list (``status=open``: those not yet acknowledged), each with its chain."""
    with _answers():
        found = _reporting(request).alerts(
            status=alert_status, report_id=report_id, limit=min(max(limit, 1), 1000)
        )
    return [a.as_dict() for a in found]


@router.get("/critical-alerts/{alert_id}", response_model=CriticalAlert)
def alert(request: Request, alert_id: int, _user: AlertReader) -> dict[str, Any]:
    with _answers():
        return _reporting(request).alert(alert_id).as_dict()


@router.post("/critical-alerts/{alert_id}/acknowledge", response_model=CriticalAlert)
def acknowledge(
    request: Request, alert_id: int, body: AcknowledgeBody, user: Clinician
) -> dict[str, Any]:
    """A clinician acknowledges receiving the critical value (who and when are recorded)."""
    with _answers():
        found = _reporting(request).acknowledge(alert_id, user.username, body.note)
    _audit(
        request, user, "reporting.critical.acknowledge", found.accession_number, alert_id=alert_id
    )
    return found.as_dict()


# -- templates ----------------------------------------------------------------------------------


@router.get("/templates", response_model=list[Template])
def templates(
    request: Request,
    user: Reader,
    modality: str = "",
    body_part: str = "",
    keyword: str = "",
    department: str = "",
    include_inactive: Annotated[bool, Query(description="retired ones too (setup page)")] = False,
) -> list[dict[str, Any]]:
    """System, department and the doctor's own private templates."""
    with _answers():
        found = _reporting(request).templates(
            user.username,
            modality=modality,
            body_part=body_part,
            keyword=keyword,
            department=department,
            include_inactive=include_inactive,
        )
    return [t.as_dict() for t in found]


@router.get("/templates/{template_id}", response_model=Template)
def template(request: Request, template_id: int, user: Reader) -> dict[str, Any]:
    with _answers():
        found = _reporting(request).template(template_id)
    if found.scope == "private" and found.owner != user.username and user.role != "admin":
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no template {template_id}")
    return found.as_dict()


def _may_write_scope(user: auth.User, scope: str) -> None:
    if scope != "private" and user.role != "admin":
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "系统和科室模板由管理员维护 / administrators keep system and department templates",
        )
    if scope == "private" and user.role == "admin":
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "管理员不建私人模板 / administrators keep shared ones"
        )


@router.post("/templates", status_code=201, response_model=Template)
def create_template(request: Request, body: TemplateBody, user: TemplateWriter) -> dict[str, Any]:
    _may_write_scope(user, body.scope)
    with _answers():
        return _reporting(request).save_template(user.username, body.domain()).as_dict()


@router.put("/templates/{template_id}", response_model=Template)
def update_template(
    request: Request, template_id: int, body: TemplateBody, user: TemplateWriter
) -> dict[str, Any]:
    _may_write_scope(user, body.scope)
    with _answers():
        current = _reporting(request).template(template_id)
        _may_write_scope(user, current.scope)
        return (
            _reporting(request)
            .save_template(user.username, body.domain(), template_id=template_id)
            .as_dict()
        )


@router.delete("/templates/{template_id}", status_code=204)
def delete_template(request: Request, template_id: int, user: TemplateWriter) -> Response:
    with _answers():
        _reporting(request).delete_template(template_id, user.username, admin=user.role == "admin")
    return Response(status_code=204)


@router.get("/default-templates")
def default_templates(request: Request, _user: Reader) -> dict[str, int]:
    """Exam item code -> the template its reports open with."""
    return _reporting(request).default_templates()


@router.put("/default-templates/{procedure_code}")
def set_default_template(
    request: Request, procedure_code: str, body: DefaultTemplateBody, user: Admin
) -> dict[str, int]:
    with _answers():
        _reporting(request).set_default_template(procedure_code, body.template_id)
    _audit(request, user, "reporting.default_template", procedure_code, id=body.template_id)
    return _reporting(request).default_templates()


# -- word rules and configuration ---------------------------------------------------------------


@router.get("/word-rules", response_model=list[WordRule])
def word_rules(request: Request, _user: Reader, modality: str = "") -> list[dict[str, Any]]:
    return [r.as_dict() for r in _reporting(request).word_rules(modality=modality)]


@router.post("/word-rules", status_code=201, response_model=WordRule)
def add_word_rule(request: Request, body: WordRuleBody, user: Admin) -> dict[str, Any]:
    """A forbidden word, or a mutually exclusive pair (``word`` with ``other``)."""
    with _answers():
        rule = _reporting(request).add_word_rule(
            body.kind, body.word, other=body.other, message=body.message, modality=body.modality
        )
    _audit(request, user, "reporting.word_rule.add", str(rule.id), word=rule.word)
    return rule.as_dict()


@router.delete("/word-rules/{rule_id}", status_code=204)
def delete_word_rule(request: Request, rule_id: int, user: Admin) -> Response:
    with _answers():
        _reporting(request).delete_word_rule(rule_id)
    _audit(request, user, "reporting.word_rule.delete", str(rule_id))
    return Response(status_code=204)


@router.get("/settings")
def settings(request: Request, _user: Reader) -> dict[str, Any]:
    """lock_minutes, default_levels, critical_escalate_minutes; levels per department and
    doctors' grades."""
    reporting = _reporting(request)
    return reporting.settings() | {
        "department_levels": reporting.department_levels(),
        "grades": reporting.grades(),
    }


@router.put("/settings")
def change_settings(request: Request, body: dict[str, int], user: Admin) -> dict[str, int]:
    with _answers():
        changed = _reporting(request).change_settings(body)
    _audit(request, user, "reporting.settings", "", **body)
    return changed


@router.put("/departments/{department}/levels")
def set_levels(request: Request, department: str, body: LevelsBody, user: Admin) -> dict[str, int]:
    """Two- or three-level review (1: a single signature) for a department's reports."""
    with _answers():
        _reporting(request).set_levels(department, body.levels)
    _audit(request, user, "reporting.levels", department, levels=body.levels)
    return _reporting(request).department_levels()


@router.put("/doctors/{username}/grade")
def set_grade(request: Request, username: str, body: GradeBody, user: Admin) -> dict[str, str]:
    """住院医师 resident, 主治医师 attending, 主任医师 chief."""
    with _answers():
        _reporting(request).set_grade(username, body.grade)
    _audit(request, user, "reporting.grade", username, grade=body.grade)
    return _reporting(request).grades()
