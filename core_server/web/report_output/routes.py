"""Report output over REST: the printed PDF (logged; reprints need permission), the electronic
copy to read or download, the print log, the archived DICOM objects of a report, the objects
waiting for the archive, and reprint grants.

Roles: printing is for the imaging department (registrar, technician, doctors, administrator);
clinicians read signed reports and their electronic copies; administrators grant reprinting.
Printing, reprinting and refusals are in the audit trail; refusals answer in the caller's
language (the one refusal handler). Times are ISO 8601 with the hospital's offset.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from core_server import auth, clock
from core_server.refusals import Refusal
from core_server.reporting.output import PRINT_ROLES, ReportOutput
from core_server.web.security import require

router = APIRouter(prefix="/api/reporting", tags=["report output"])

READ_ROLES = ("admin", "registrar", "reporting_doctor", "reviewing_doctor", "clinician")
DOCTORS = ("admin", "reporting_doctor", "reviewing_doctor")
PDF_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}

Printer = Annotated[auth.User, Depends(require(*PRINT_ROLES))]
Reader = Annotated[auth.User, Depends(require(*READ_ROLES))]
Doctor = Annotated[auth.User, Depends(require(*DOCTORS))]
Admin = Annotated[auth.User, Depends(require("admin"))]


def output(request: Request) -> ReportOutput:
    found: ReportOutput | None = getattr(request.app.state, "report_output", None)
    if found is None:
        raise Refusal("report_output.not_configured", 503)
    return found


def address(request: Request) -> str:
    return request.client.host if request.client else ""


def _pdf(
    body: bytes, filename: str, *, inline: bool = True, headers: dict[str, str] | None = None
) -> Response:
    disposition = "inline" if inline else "attachment"
    return Response(
        body,
        media_type="application/pdf",
        headers={
            **PDF_HEADERS,
            "Content-Disposition": f'{disposition}; filename="{filename}"',
            **(headers or {}),
        },
    )


class PrintRequest(BaseModel):
    copies: int = Field(1, ge=1, le=10, description="paper copies handed out")
    reason: str = Field("", max_length=500, description="why a reprint is needed (required then)")


class GrantRequest(BaseModel):
    note: str = Field("", max_length=255)


@router.post("/reports/{report_id}/print", responses={200: {"content": {"application/pdf": {}}}})
def print_report(report_id: int, body: PrintRequest, request: Request, user: Printer) -> Response:
    """Print the newest signed version: the print is logged, then the PDF is the answer. A
    version printed before needs the reprint permission and a reason (403 / 400).

    A browser page asks with ``Accept: application/json``: it gets the log entry (201) and
    opens ``/api/reporting/prints/{id}/pdf`` in a window of its own to print."""
    as_json = "application/json" in request.headers.get("accept", "")
    pdf, record = output(request).print_report(
        report_id,
        user,
        copies=body.copies,
        reason=body.reason,
        address=address(request),
        base_url=str(request.base_url),
        render=not as_json,
    )
    if as_json:
        return JSONResponse(
            {
                **record.as_dict(),
                "printed_at": clock.iso(record.printed_at),
                "pdf": f"/api/reporting/prints/{record.id}/pdf",
            },
            status_code=201,
        )
    name = f"report-{record.accession_number}-v{record.version}.pdf"
    extra = {"X-Print-Id": str(record.id), "X-Reprint": "1" if record.reprint else "0"}
    return _pdf(pdf, name, headers=extra)


@router.get("/prints/{print_id}/pdf")
def printed_pdf(print_id: int, request: Request, user: Printer) -> Response:
    """The PDF of one's own print, logged a moment ago (10 minutes at most)."""
    pdf = output(request).printed_pdf(print_id, user, base_url=str(request.base_url))
    return _pdf(pdf, f"print-{print_id}.pdf")


@router.get("/reports/{report_id}/pdf")
def electronic_copy(
    report_id: int,
    request: Request,
    user: Reader,
    version: Annotated[int | None, Query(ge=1)] = None,
    download: bool = False,
) -> Response:
    """A signed version (default the newest) as a PDF marked as an electronic copy."""
    service = output(request)
    pdf = service.electronic_copy(report_id, version, base_url=str(request.base_url))
    auth.record_audit(
        service.engine,
        username=user.username,
        action="report.pdf_viewed",
        target=f"report:{report_id}",
        detail={"version": version},
        address=address(request),
    )
    return _pdf(pdf, f"report-{report_id}.pdf", inline=not download)


@router.get("/reports/{report_id}/prints")
def print_log(report_id: int, request: Request, user: Printer) -> dict[str, Any]:
    service = output(request)
    return {
        "prints": [
            r.as_dict() | {"printed_at": clock.iso(r.printed_at)}
            for r in service.print_log(report_id)
        ],
        "may_reprint": service.may_reprint(user),
    }


@router.get("/reports/{report_id}/archived")
def archived_objects(report_id: int, request: Request, user: Doctor) -> list[dict[str, Any]]:
    """The DICOM objects (SR, encapsulated PDF) of each signed version and where they are."""
    return [
        {**o.__dict__, "stored_at": clock.iso(o.stored_at)}
        for o in output(request).objects(report_id)
    ]


@router.get("/archive-jobs")
def archive_jobs(request: Request, user: Admin) -> list[dict[str, Any]]:
    """Report objects not yet in the archive (with the last error and the next attempt)."""
    return [
        {**o.__dict__, "stored_at": None, "next_attempt_at": clock.iso(at)}
        for o, at in output(request).pending()
    ]


@router.post("/archive-jobs/retry")
def retry_archive_jobs(request: Request, user: Admin) -> dict[str, int]:
    """Try every waiting object now (after fixing what made it fail)."""
    service = output(request)
    count = service.retry_now()
    auth.record_audit(
        service.engine,
        username=user.username,
        action="report.archive_retry",
        detail={"objects": count},
        address=address(request),
    )
    return {"objects": count}


@router.get("/reprint-grants")
def reprint_grants(request: Request, user: Admin) -> list[dict[str, Any]]:
    return [
        {**g.__dict__, "granted_at": clock.iso(g.granted_at)}
        for g in output(request).reprint_grants()
    ]


@router.put("/reprint-grants/{username}")
def grant_reprint(
    username: str, body: GrantRequest, request: Request, user: Admin
) -> dict[str, Any]:
    grant = output(request).grant_reprint(username, by=user.username, note=body.note)
    return {**grant.__dict__, "granted_at": clock.iso(grant.granted_at)}


@router.delete("/reprint-grants/{username}", status_code=204)
def revoke_reprint(username: str, request: Request, user: Admin) -> Response:
    output(request).revoke_reprint(username, by=user.username)
    return Response(status_code=204)
