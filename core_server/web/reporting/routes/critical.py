"""Critical values over REST: a doctor raises one on a report (the HIS is told over HL7 and
the alert escalates until acknowledged), the alert list with each alert's chain, a
clinician's acknowledgement (raising and acknowledging are audited)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from core_server.reporting import CriticalAlert
from core_server.web.reporting.routes.access import (
    AlertReader,
    Clinician,
    Writer,
    doctor,
    record,
    reporting,
)

router = APIRouter()


class CriticalBody(BaseModel):
    description: str = Field(min_length=1, max_length=2000, description="危急值内容")


class AcknowledgeBody(BaseModel):
    note: str = Field("", max_length=2000, description="处理措施 / action taken")


@router.post("/reports/{report_id}/critical", status_code=201, response_model=CriticalAlert)
def raise_critical(
    request: Request, report_id: int, body: CriticalBody, user: Writer
) -> dict[str, Any]:
    """Flag a critical value: the HIS is told over HL7, and the alert escalates until a
    clinician acknowledges it."""
    alert = reporting(request).raise_critical(report_id, doctor(user), body.description)
    record(request, user, "reporting.critical.raise", alert.accession_number, alert_id=alert.id)
    return alert.as_dict()


@router.get("/critical-alerts", response_model=list[CriticalAlert])
def alerts(
    request: Request,
    _user: AlertReader,
    alert_status: Annotated[str, Query(alias="status", description="open, acknowledged")] = "",
    report_id: int | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """The alert list (``status=open``: those not yet acknowledged), each with its chain and
    the patient's name as the RIS has it now."""
    found = reporting(request).alerts(
        status=alert_status, report_id=report_id, limit=min(max(limit, 1), 1000)
    )
    return [a.as_dict() for a in found]


@router.get("/critical-alerts/{alert_id}", response_model=CriticalAlert)
def alert(request: Request, alert_id: int, _user: AlertReader) -> dict[str, Any]:
    return reporting(request).alert(alert_id).as_dict()


@router.post("/critical-alerts/{alert_id}/acknowledge", response_model=CriticalAlert)
def acknowledge(
    request: Request, alert_id: int, body: AcknowledgeBody, user: Clinician
) -> dict[str, Any]:
    """A clinician acknowledges receiving the critical value (who and when are recorded)."""
    found = reporting(request).acknowledge(alert_id, user.username, body.note)
    record(
        request, user, "reporting.critical.acknowledge", found.accession_number, alert_id=alert_id
    )
    return found.as_dict()
