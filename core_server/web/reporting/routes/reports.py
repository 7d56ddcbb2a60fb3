"""The reporting worklist and a report's way through the editor: opening it, the editing
lock, autosave and kept versions, the diff and history, the word check and the workflow steps
(submit, review, sign, reject, amend; sign, amend and reject are audited)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field

from core_server import auth, clock
from core_server.reporting import Content, HistoryEntry, NotFound, Version, WorklistRow
from core_server.web.reporting.routes.access import (
    Admin,
    Reader,
    ReportAnswer,
    ReportReader,
    Writer,
    doctor,
    out,
    record,
    reporting,
)

router = APIRouter()


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
    """Performed exams of the chosen days (default the last seven, hospital days) with their
    report state, emergencies and critical values first, ``limit`` from ``offset``;
    ``X-Total-Count``: the rows of all pages. ``priors``: the patient's other signed reports."""
    page = reporting(request).worklist(
        doctor(user),
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


@router.post("/exams/{exam_id}/report", response_model=ReportAnswer)
def start_report(
    request: Request, exam_id: int, user: Writer, response: Response
) -> dict[str, Any]:
    """The exam's report, created (201) as a draft from the exam item's default template the
    first time; 200 with the existing one afterwards."""
    service = reporting(request)
    existed = service.report_for_exam(exam_id) is not None
    report = service.start(exam_id, doctor(user))
    response.status_code = status.HTTP_200_OK if existed else status.HTTP_201_CREATED
    return out(report, user, service)


@router.get("/exams/{exam_id}/report", response_model=ReportAnswer)
def exam_report(request: Request, exam_id: int, user: ReportReader) -> dict[str, Any]:
    service = reporting(request)
    report = service.report_for_exam(exam_id)
    if report is None:
        raise NotFound("reporting.exam.no_report", exam_id=exam_id)
    return out(report, user, service)


@router.get("/reports/{report_id}", response_model=ReportAnswer)
def get_report(request: Request, report_id: int, user: ReportReader) -> dict[str, Any]:
    service = reporting(request)
    return out(service.report(report_id), user, service)


@router.post("/reports/{report_id}/lock", response_model=ReportAnswer)
def lock(request: Request, report_id: int, user: Writer) -> dict[str, Any]:
    """Take or renew the editing lock (409 with ``holder`` and ``expires_at`` while another
    doctor edits)."""
    service = reporting(request)
    return out(service.lock(report_id, user.username), user, service)


@router.delete("/reports/{report_id}/lock", response_model=ReportAnswer)
def unlock(request: Request, report_id: int, user: Writer) -> dict[str, Any]:
    """Give the lock back when closing the editor."""
    service = reporting(request)
    return out(service.unlock(report_id, user.username), user, service)


@router.post("/reports/{report_id}/lock/break", response_model=ReportAnswer)
def break_lock(request: Request, report_id: int, user: Admin) -> dict[str, Any]:
    """An administrator frees a report held by someone who went away (recorded)."""
    service = reporting(request)
    holder = service.report(report_id).lock_holder
    service.lock(report_id, user.username, force=True)
    report = service.unlock(report_id, user.username)
    record(request, user, "reporting.lock.break", str(report_id), holder=holder)
    return out(report, user, service)


@router.put("/reports/{report_id}/draft")
def autosave(request: Request, report_id: int, body: ContentBody, user: Writer) -> dict[str, Any]:
    """Autosave (every few seconds): the working copy, and the lock renewed. Cheap; keeps no
    version."""
    report = reporting(request).autosave(report_id, doctor(user), body.domain())
    return {
        "id": report.id,
        "status": report.status,
        "draft_saved_at": clock.iso(report.draft_saved_at),
        "lock_expires_at": clock.iso(report.lock_expires_at),
    }


@router.post("/reports/{report_id}/versions", status_code=201, response_model=ReportAnswer)
def save(request: Request, report_id: int, body: ContentBody, user: Writer) -> dict[str, Any]:
    """An explicit save: the text becomes a kept version."""
    service = reporting(request)
    return out(service.save(report_id, doctor(user), body.domain()), user, service)


@router.get("/reports/{report_id}/versions", response_model=list[Version])
def versions(request: Request, report_id: int, _user: Reader) -> list[dict[str, Any]]:
    return [v.as_dict() for v in reporting(request).versions(report_id)]


@router.get("/reports/{report_id}/versions/{number}", response_model=Version)
def version(request: Request, report_id: int, number: int, _user: Reader) -> dict[str, Any]:
    return reporting(request).version(report_id, number).as_dict()


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
    return reporting(request).diff(report_id, number, against)


@router.get("/reports/{report_id}/history", response_model=list[HistoryEntry])
def history(request: Request, report_id: int, _user: Reader) -> list[dict[str, Any]]:
    service = reporting(request)
    service.report(report_id)
    return [h.as_dict() for h in service.history(report_id)]


@router.get("/reports/{report_id}/check")
def check(request: Request, report_id: int, _user: Writer) -> list[dict[str, str]]:
    """Forbidden and mutually exclusive words in the saved text (also checked on submit and
    sign)."""
    return reporting(request).check(report_id)


def _step(request: Request, report_id: int, user: auth.User, action: str, **kw: Any) -> Any:
    service = reporting(request)
    report = getattr(service, action)(report_id, doctor(user), **kw)
    if action in ("sign", "amend", "reject"):
        record(
            request,
            user,
            f"reporting.report.{action}",
            report.accession_number,
            report_id=report_id,
            version=report.version,
            reason=kw.get("reason", ""),
        )
    return out(report, user, service)


@router.post("/reports/{report_id}/submit", response_model=ReportAnswer)
def submit(
    request: Request, report_id: int, user: Writer, body: ContentBody | None = None
) -> dict[str, Any]:
    """Draft -> submitted (the exam becomes "reported"; HL7 ORU OBR-25 P)."""
    return _step(request, report_id, user, "submit", content=body.domain() if body else None)


@router.post("/reports/{report_id}/review", response_model=ReportAnswer)
def review(
    request: Request, report_id: int, user: Writer, body: ContentBody | None = None
) -> dict[str, Any]:
    """Three-level departments: an attending reviews a submitted report."""
    return _step(request, report_id, user, "review", content=body.domain() if body else None)


@router.post("/reports/{report_id}/sign", response_model=ReportAnswer)
def sign(
    request: Request, report_id: int, user: Writer, body: ContentBody | None = None
) -> dict[str, Any]:
    """Sign: final (OBR-25 F), or corrected (C) after an amendment; the exam becomes
    "verified". Emergency reports and one-level departments are signed from the draft."""
    return _step(request, report_id, user, "sign", content=body.domain() if body else None)


@router.post("/reports/{report_id}/reject", response_model=ReportAnswer)
def reject(request: Request, report_id: int, body: ReasonBody, user: Writer) -> dict[str, Any]:
    """Back to the author with a reason."""
    return _step(request, report_id, user, "reject", reason=body.reason)


@router.post("/reports/{report_id}/amend", response_model=ReportAnswer)
def amend(request: Request, report_id: int, body: ReasonBody, user: Writer) -> dict[str, Any]:
    """Reopen a signed report for correction; the signed version is kept."""
    return _step(request, report_id, user, "amend", reason=body.reason)
