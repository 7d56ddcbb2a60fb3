"""Who may call what of the reporting API, and what its route modules share: the service, the
acting doctor, the audit trail, and a report as the user may see it with the actions they may
take (``allowed_actions``: the editor shows these and re-derives no rule)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from core_server import auth
from core_server.refusals import Refusal
from core_server.reporting import Doctor, NotFound, Report, Reporting
from core_server.reporting.output import PRINT_ROLES
from core_server.web.security import audit, require

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


@dataclass(frozen=True)
class ReportAnswer(Report):
    """A report with what the asking user may do with it now: ``edit`` (or ``take_over``,
    another doctor's draft), ``submit``, ``review``, ``sign``, ``reject``, ``amend``,
    ``flags``, ``result_flags`` (positive, infectious: not once signed), ``critical``,
    ``grade_report``, ``grade_images``, ``follow_up``, ``save_template``, ``print``,
    ``break_lock``."""

    allowed_actions: tuple[str, ...] = ()


def reporting(request: Request) -> Reporting:
    service: Reporting | None = request.app.state.ctx.reporting
    if service is None:
        raise Refusal("reporting.not_configured", 503)
    return service


def doctor(user: auth.User) -> Doctor:
    return Doctor(user.username, user.role)


def record(request: Request, user: auth.User, action: str, target: str, **detail: Any) -> None:
    """An entry of the audit trail."""
    audit(request, user, action, target, detail)


def allowed_actions(service: Reporting, report: Report, user: auth.User) -> list[str]:
    actions = service.allowed_actions(report, doctor(user))
    if user.role in GRADERS:
        actions.append("grade_images")
    if report.signed_version is not None and user.role in PRINT_ROLES:
        actions.append("print")
    if user.role == "admin" and report.lock_holder:
        actions.append("break_lock")
    return actions


def out(report: Report, user: auth.User, service: Reporting) -> dict[str, Any]:
    """A report as the user may see it (clinicians get the last signed text only), with the
    actions they may take."""
    answer = report.as_dict() | {"allowed_actions": allowed_actions(service, report, user)}
    if user.role != "clinician":
        return answer
    if report.signed_version is None:
        raise NotFound("reporting.report.not_signed")
    signed = service.version(report.id, report.signed_version)
    # Internal working state is blanked for clinicians (the keys stay: one response model).
    hidden = {
        "lock_holder": "",
        "lock_expires_at": None,
        "report_quality": "",
        "report_quality_by": "",
    }
    return (
        answer
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
