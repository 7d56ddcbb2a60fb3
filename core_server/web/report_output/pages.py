"""The report output pages: the clinicians' read-only report view
(``/reports/view?AccessionNumber=...`` or ``?PatientID=...``, for links from the HIS), one
signed version as it was signed, and the administrator's printing and archiving page. Reading
a report is audited. Names are shown as a person reads them (王建国), times in the hospital's
zone; signed versions are numbered by signature (第 1 版 is the first signature), not by the
report's internal version numbers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from core_server import auth, clock
from core_server.reporting import NotFound, plain
from core_server.reporting.output import (
    PRINT_ROLES,
    ReportOutput,
    SignedReport,
    reports_for,
    signed_versions,
)
from core_server.web.report_output.routes import READ_ROLES, address, output
from core_server.web.security import require_page
from core_server.web.templating import render
from core_server.web.viewer import VIEW_ROLES

router = APIRouter(include_in_schema=False)
ReadPage = Annotated[auth.User, Depends(require_page(*READ_ROLES))]
_TEXTS = ("report_output.print.",)


def _entry(service: ReportOutput, signed: SignedReport) -> dict[str, Any]:
    """What the page shows of one signed version, ready to print into the template."""
    report = signed.report
    versions = [
        {
            "ordinal": ordinal,
            "number": v.number,
            "signer": service.display_name(v.username),
            "at": clock.shown(v.created_at),
            "reason": v.reason,
            "current": v.number == signed.version.number,
        }
        for ordinal, v in enumerate(signed_versions(service.engine, report.id), start=1)
    ]
    return {
        "report": report,
        "signed": signed,
        "patient_name": signed.patient_display_name,
        "signer": service.display_name(signed.version.username),
        "signed_at": clock.shown(signed.version.created_at),
        "findings": plain(signed.version.findings),
        "impression": plain(signed.version.impression),
        "versions": versions,
    }


def _context(user: auth.User) -> dict[str, Any]:
    return {"may_print": user.role in PRINT_ROLES, "may_view_images": user.role in VIEW_ROLES}


def _viewed(request: Request, user: auth.User, target: str, **detail: Any) -> None:
    auth.record_audit(
        output(request).engine,
        username=user.username,
        action="report.viewed",
        target=target,
        detail=detail,
        address=address(request),
    )


@router.get("/reports/view")
def report_view(
    request: Request,
    user: ReadPage,
    accession_number: Annotated[str, Query(alias="AccessionNumber", max_length=64)] = "",
    patient_id: Annotated[str, Query(alias="PatientID", max_length=64)] = "",
) -> Response:
    """Signed reports of one exam (accession number) or one patient, each with its signed
    versions (the first signature and every amendment) for the clinician."""
    service = output(request)
    reports = reports_for(service.engine, accession_number=accession_number, patient_id=patient_id)
    entries = [_entry(service, service.signed(report.id)) for report in reports]
    target = f"accession:{accession_number}" if accession_number else f"patient:{patient_id}"
    _viewed(request, user, target, reports=[r.id for r in reports])
    context = {
        "entries": entries,
        "accession_number": accession_number,
        "patient_id": patient_id,
        "asked": bool(accession_number or patient_id),
        **_context(user),
    }
    return render(request, "report_output/view.html", context, user=user, i18n_prefixes=_TEXTS)


@router.get("/reports/view/{report_id}/versions/{number}")
def report_version_view(report_id: int, number: int, request: Request, user: ReadPage) -> Response:
    """One signed version as it was signed (an earlier one stays readable after amendments)."""
    service = output(request)
    try:
        signed = service.signed(report_id, number)
    except NotFound:
        return render(
            request, "report_output/version.html", {"entry": None}, user=user, status_code=404
        )
    _viewed(request, user, f"report:{report_id}", version=number)
    context = {"entry": _entry(service, signed), **_context(user)}
    return render(request, "report_output/version.html", context, user=user, i18n_prefixes=_TEXTS)


@router.get("/admin/report-output")
def admin_page(
    request: Request, user: Annotated[auth.User, Depends(require_page("admin"))]
) -> Response:
    """Reprint grants and report objects waiting for the archive."""
    return render(
        request, "report_output/admin.html", {}, user=user, i18n_prefixes=("report_output.",)
    )
