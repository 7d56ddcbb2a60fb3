"""Orders: placed (with the patient inline, one call per order for a HIS), read by placer or
filler number, changed, cancelled."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from core_server.ris import OrderIn, ProcedureRequest, RisError
from core_server.web.ris.routes.access import Registrar, Staff, record, ris
from core_server.web.ris.routes.patients import PatientBody

router = APIRouter()


class ProcedureBody(BaseModel):
    procedure_code: str = Field(min_length=1, description="code of the exam item catalogue")
    accession_number: str = Field("", max_length=16, description="generated when empty")
    requested_procedure_id: str = Field("", max_length=16)
    room: str = ""
    station_ae: str = Field("", max_length=16)
    scheduled_at: datetime | None = Field(
        None, description="ISO 8601; without an offset: hospital time; now when empty"
    )
    notes: str = ""


class OrderBody(BaseModel):
    """An order for one patient. With ``patient`` the patient is registered (or updated)
    first, so a HIS needs one call per order."""

    patient_id: str = Field("", max_length=64)
    issuer: str = ""
    patient: PatientBody | None = None
    placer_order_number: str = Field(min_length=1, max_length=64)
    placer_application: str = ""
    filler_order_number: str = ""
    visit_number: str = ""
    referring_physician: str = ""
    referring_department: str = ""
    clinical_info: str = ""
    priority: str = "ROUTINE"
    emergency: bool = False
    bedside: bool = False
    procedures: list[ProcedureBody] = Field(min_length=1)

    def domain(self) -> OrderIn:
        return OrderIn(
            placer_order_number=self.placer_order_number,
            procedures=tuple(ProcedureRequest(**p.model_dump()) for p in self.procedures),
            placer_application=self.placer_application,
            filler_order_number=self.filler_order_number,
            visit_number=self.visit_number,
            referring_physician=self.referring_physician,
            referring_department=self.referring_department,
            clinical_info=self.clinical_info,
            priority=self.priority,
            emergency=self.emergency,
            bedside=self.bedside,
        )


@router.post("/orders", status_code=201)
def place_order(request: Request, body: OrderBody, user: Registrar) -> dict[str, Any]:
    service = ris(request)
    patient_id, issuer = body.patient_id, body.issuer
    if body.patient is not None:
        patient = service.register_patient(
            body.patient.domain(),
            username=user.username,
            check_duplicates=not body.patient.confirm_duplicate,
        )
        patient_id, issuer = patient.patient_id, patient.issuer
    if not patient_id:
        raise RisError("ris.order.patient_required")
    order = service.place_order(patient_id, issuer, body.domain(), username=user.username)
    record(request, user, "ris.order.place", order.filler_order_number)
    return order.as_dict()


@router.get("/orders/{filler_order_number}")
def get_order(request: Request, filler_order_number: str, _user: Staff) -> dict[str, Any]:
    return ris(request).order(filler_order_number=filler_order_number).as_dict()


@router.get("/orders")
def find_order(
    request: Request, _user: Staff, placer_order_number: str, placer_application: str = ""
) -> dict[str, Any]:
    """The order with this placer (HIS) number: status of each of its exams."""
    found = ris(request).order(
        placer_order_number=placer_order_number, placer_application=placer_application
    )
    return found.as_dict()


@router.put("/orders")
def change_order(request: Request, body: OrderBody, user: Registrar) -> dict[str, Any]:
    """Change the order with this placer number (priority, times, procedures not started)."""
    order = ris(request).change_order(body.domain(), username=user.username)
    record(request, user, "ris.order.change", order.filler_order_number)
    return order.as_dict()


class CancelBody(BaseModel):
    placer_order_number: str = ""
    placer_application: str = ""
    filler_order_number: str = ""
    reason: str = ""


@router.post("/orders/cancel")
def cancel_order(request: Request, body: CancelBody, user: Registrar) -> dict[str, Any]:
    order = ris(request).cancel_order(**body.model_dump(), username=user.username)
    record(request, user, "ris.order.cancel", order.filler_order_number, reason=body.reason)
    return order.as_dict()
