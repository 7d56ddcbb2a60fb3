"""Report output over HTTP: the printed PDF (logged; reprints need permission), the electronic
copy to read or download, the print log, the archived DICOM objects of a report, reprint
grants, and the clinicians' read-only report view (``/reports/view?AccessionNumber=...`` or
``?PatientID=...``, for links from the HIS).

Roles: printing is for the imaging department (registrar, technician, doctors, administrator);
clinicians read signed reports and their electronic copies; administrators grant reprinting.
Reading a report, printing, reprinting and refusals are in the audit trail.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from core_server import auth
from core_server.reporting import Forbidden, NotFound, ReportingError, plain
from core_server.reporting.output import (
    PRINT_ROLES,
    ReportOutput,
    reports_for,
    signed_versions,
)
from core_server.web.security import require, require_page
from core_server.web.templating import PageLink, add_page_link, render
from core_server.web.viewer import VIEW_ROLES

api = APIRouter(prefix="/api/reporting", tags=["report output"])
pages = APIRouter(include_in_schema=False)

READ_ROLES = ("admin", "registrar", "reporting_doctor", "reviewing_doctor", "clinician")
DOCTORS = ("admin", "reporting_doctor", "reviewing_doctor")
PDF_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def _output(request: Request) -> ReportOutput:
    output: ReportOutput | None = getattr(request.app.state, "report_output", None)
    if output is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "report output not configured")
    return output


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except Forbidden as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    except ReportingError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None


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


@api.post("/reports/{report_id}/print", responses={200: {"content": {"application/pdf": {}}}})
def print_report(
    report_id: int,
    body: PrintRequest,
    request: Request,
    user: Annotated[auth.User, Depends(require(*PRINT_ROLES))],
) -> Response:
    """Print the newest signed version: the print is logged, then the PDF is the answer. A
    version printed before needs the reprint permission and a reason (403 / 400).

    A browser page asks with ``Accept: application/json``: it gets the log entry (201) and
    opens ``/api/reporting/prints/{id}/pdf`` in a window of its own to print."""
    as_json = "application/json" in request.headers.get("accept", "")
    with _errors():
        pdf, record = _output(request).print_report(
            report_id,
            user,
            copies=body.copies,
            reason=body.reason,
            address=_address(request),
            base_url=str(request.base_url),
            render=not as_json,
        )
    if as_json:
        return JSONResponse(
            {**record.as_dict(), "pdf": f"/api/reporting/prints/{record.id}/pdf"},
            status_code=201,
        )
    name = f"report-{record.accession_number}-v{record.version}.pdf"
    extra = {"X-Print-Id": str(record.id), "X-Reprint": "1" if record.reprint else "0"}
    return _pdf(pdf, name, headers=extra)


@api.get("/prints/{print_id}/pdf")
def printed_pdf(
    print_id: int,
    request: Request,
    user: Annotated[auth.User, Depends(require(*PRINT_ROLES))],
) -> Response:
    """The PDF of one's own print, logged a moment ago (10 minutes at most)."""
    with _errors():
        pdf = _output(request).printed_pdf(print_id, user, base_url=str(request.base_url))
    return _pdf(pdf, f"print-{print_id}.pdf")


@api.get("/reports/{report_id}/pdf")
def electronic_copy(
    report_id: int,
    request: Request,
    user: Annotated[auth.User, Depends(require(*READ_ROLES))],
    version: Annotated[int | None, Query(ge=1)] = None,
    download: bool = False,
) -> Response:
    """A signed version (default the newest) as a PDF marked as an electronic copy."""
    output = _output(request)
    with _errors():
        pdf = output.electronic_copy(report_id, version, base_url=str(request.base_url))
    auth.record_audit(
        output.engine,
        username=user.username,
        action="report.pdf_viewed",
        target=f"report:{report_id}",
        detail={"version": version},
        address=_address(request),
    )
    return _pdf(pdf, f"report-{report_id}.pdf", inline=not download)


@api.get("/reports/{report_id}/prints")
def print_log(
    report_id: int,
    request: Request,
    user: Annotated[auth.User, Depends(require(*PRINT_ROLES))],
) -> dict[str, Any]:
    output = _output(request)
    return {
        "prints": [r.as_dict() for r in output.print_log(report_id)],
        "may_reprint": output.may_reprint(user),
    }


@api.get("/reports/{report_id}/archived")
def archived_objects(
    report_id: int,
    request: Request,
    user: Annotated[auth.User, Depends(require(*DOCTORS))],
) -> list[dict[str, Any]]:
    """The DICOM objects (SR, encapsulated PDF) of each signed version and where they are."""
    return [
        {**o.__dict__, "stored_at": o.stored_at.isoformat() if o.stored_at else None}
        for o in _output(request).objects(report_id)
    ]


@api.get("/archive-jobs")
def archive_jobs(
    request: Request, user: Annotated[auth.User, Depends(require("admin"))]
) -> list[dict[str, Any]]:
    """Report objects not yet in the archive (with the last error and the next attempt)."""
    return [
        {
            **o.__dict__,
            "stored_at": None,
            "next_attempt_at": at.isoformat() if at else None,
        }
        for o, at in _output(request).pending()
    ]


@api.post("/archive-jobs/retry")
def retry_archive_jobs(
    request: Request, user: Annotated[auth.User, Depends(require("admin"))]
) -> dict[str, int]:
    """Try every waiting object now (after fixing what made it fail)."""
    output = _output(request)
    count = output.retry_now()
    auth.record_audit(
        output.engine,
        username=user.username,
        action="report.archive_retry",
        detail={"objects": count},
        address=_address(request),
    )
    return {"objects": count}


@pages.get("/admin/report-output")
def admin_page(
    request: Request, user: Annotated[auth.User, Depends(require_page("admin"))]
) -> Response:
    """Reprint grants and report objects waiting for the archive."""
    return render(
        request, "reporting_view/admin.html", {}, user=user, i18n_prefixes=("report_output.",)
    )


class GrantRequest(BaseModel):
    note: str = Field("", max_length=255)


@api.get("/reprint-grants")
def reprint_grants(
    request: Request, user: Annotated[auth.User, Depends(require("admin"))]
) -> list[dict[str, Any]]:
    return [
        {**g.__dict__, "granted_at": g.granted_at.isoformat()}
        for g in _output(request).reprint_grants()
    ]


@api.put("/reprint-grants/{username}")
def grant_reprint(
    username: str,
    body: GrantRequest,
    request: Request,
    user: Annotated[auth.User, Depends(require("admin"))],
) -> dict[str, Any]:
    with _errors():
        grant = _output(request).grant_reprint(username, by=user.username, note=body.note)
    return {**grant.__dict__, "granted_at": grant.granted_at.isoformat()}


@api.delete("/reprint-grants/{username}", status_code=204)
def revoke_reprint(
    username: str,
    request: Request,
    user: Annotated[auth.User, Depends(require("admin"))],
) -> Response:
    with _errors():
        _output(request).revoke_reprint(username, by=user.username)
    return Response(status_code=204)


@pages.get("/reports/view")
def report_view(
    request: Request,
    user: Annotated[auth.User, Depends(require_page(*READ_ROLES))],
    accession_number: Annotated[str, Query(alias="AccessionNumber", max_length=64)] = "",
    patient_id: Annotated[str, Query(alias="PatientID", max_length=64)] = "",
) -> Response:
    """Signed reports of one exam (accession number) or one patient, each with its signed
    versions (the first signature and every amendment) for the clinician."""
    output = _output(request)
    reports = reports_for(output.engine, accession_number=accession_number, patient_id=patient_id)
    entries = []
    for report in reports:
        with _errors():
            signed = output.signed(report.id)
        entries.append(
            {
                "report": report,
                "signed": signed,
                "findings": plain(signed.version.findings),
                "impression": plain(signed.version.impression),
                "versions": signed_versions(output.engine, report.id),
            }
        )
    auth.record_audit(
        output.engine,
        username=user.username,
        action="report.viewed",
        target=f"accession:{accession_number}" if accession_number else f"patient:{patient_id}",
        detail={"reports": [r.id for r in reports]},
        address=_address(request),
    )
    return render(
        request,
        "reporting_view/view.html",
        {
            "entries": entries,
            "accession_number": accession_number,
            "patient_id": patient_id,
            "asked": bool(accession_number or patient_id),
            "doctor_name": output.display_name,
            "may_print": user.role in PRINT_ROLES,
            "may_view_images": user.role in VIEW_ROLES,
        },
        user=user,
        i18n_prefixes=("report_output.print.",),
    )


@pages.get("/reports/view/{report_id}/versions/{number}")
def report_version_view(
    report_id: int,
    number: int,
    request: Request,
    user: Annotated[auth.User, Depends(require_page(*READ_ROLES))],
) -> Response:
    """One signed version as it was signed (an earlier one stays readable after amendments)."""
    output = _output(request)
    try:
        signed = output.signed(report_id, number)
    except NotFound:
        return render(
            request,
            "reporting_view/version.html",
            {"entry": None},
            user=user,
            status_code=404,
        )
    auth.record_audit(
        output.engine,
        username=user.username,
        action="report.viewed",
        target=f"report:{report_id}",
        detail={"version": number},
        address=_address(request),
    )
    entry = {
        "report": signed.report,
        "signed": signed,
        "findings": plain(signed.version.findings),
        "impression": plain(signed.version.impression),
        "versions": signed_versions(output.engine, report_id),
    }
    return render(
        request,
        "reporting_view/version.html",
        {
            "entry": entry,
            "doctor_name": output.display_name,
            "may_print": user.role in PRINT_ROLES,
            "may_view_images": user.role in VIEW_ROLES,
        },
        user=user,
        i18n_prefixes=("report_output.print.",),
    )


def install(app: FastAPI, output: ReportOutput) -> None:
    app.state.report_output = output
    app.include_router(api)
    app.include_router(pages)
    add_page_link(app, PageLink("report_output.nav.view", "/reports/view", READ_ROLES, order=60))
    add_page_link(
        app, PageLink("report_output.nav.admin", "/admin/report-output", ("admin",), order=935)
    )
