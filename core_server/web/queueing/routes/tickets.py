"""Check-in (a scanned code becomes a ticket) and the desk's changes to tickets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from core_server import auth
from core_server.queueing import Forbidden
from core_server.queueing.refusals import invalid
from core_server.web.queueing.routes.access import (
    DESK,
    STAFF,
    TICKET_STAFF,
    IdempotencyKey,
    act,
    device_of,
    idem_key,
    record,
    service,
)
from core_server.web.security import require

router = APIRouter()


Desk = Annotated[auth.User, Depends(require(*DESK))]


class CheckInIn(BaseModel):
    barcode: str = Field("", max_length=64)
    exam_id: int | None = None
    accession: str = Field("", max_length=64)
    queue: str | None = None
    priority: str | None = None
    confirm_other_day: bool = Field(
        False, description="the desk confirmed checking in an exam booked for another day"
    )


@router.post("/check-in")
def check_in(request: Request, body: CheckInIn, user: Desk, key: IdempotencyKey = None) -> Any:
    allowed: tuple[str, ...] = ()
    device = device_of(request, user)
    if device is not None:
        if device.kind != "printer":
            raise Forbidden("not_a_printer")
        allowed = device.queues
    if not (body.barcode.strip() or body.exam_id is not None or body.accession.strip()):
        raise invalid("barcode")
    return act(
        request,
        lambda: service(request).check_in(
            username=user.username,
            barcode=body.barcode,
            exam_id=body.exam_id,
            accession=body.accession,
            queue=body.queue,
            priority=body.priority,
            allowed_queues=allowed,
            key=idem_key(user, key),
            confirm_other_day=body.confirm_other_day,
            by_device=device is not None,
        ),
    )


@router.get("/tickets/{ticket_id}", dependencies=[Depends(require(*STAFF))])
def get_ticket(request: Request, ticket_id: int) -> dict[str, Any]:
    return service(request).ticket(ticket_id).as_dict()


@router.get("/tickets/{ticket_id}/print", dependencies=[Depends(require(*DESK))])
def print_ticket(request: Request, ticket_id: int) -> dict[str, Any]:
    return service(request).print_ticket(ticket_id)


class PriorityIn(BaseModel):
    priority: str | None = None


@router.patch("/tickets/{ticket_id}", dependencies=[Depends(require(*TICKET_STAFF))])
def change_ticket(request: Request, ticket_id: int, body: PriorityIn) -> dict[str, Any]:
    return service(request).set_priority(ticket_id, body.priority).as_dict()


@router.post("/tickets/{ticket_id}/cancel")
def cancel_ticket(
    request: Request,
    ticket_id: int,
    user: Annotated[auth.User, Depends(require(*TICKET_STAFF))],
) -> dict[str, Any]:
    cancelled = service(request).cancel(ticket_id, username=user.username)
    record(request, user, "ticket.cancel", f"ticket:{cancelled.number}", ticket_id=ticket_id)
    return cancelled.as_dict()


@router.post(
    "/tickets/{ticket_id}/return",
    dependencies=[Depends(require(*TICKET_STAFF))],
)
def return_ticket(request: Request, ticket_id: int) -> dict[str, Any]:
    return service(request).return_early(ticket_id).as_dict()
