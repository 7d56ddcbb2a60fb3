"""The HL7 interface's administration API (``/api/hl7/...``), for administrators only: the
inbound message log (with each ACK, and reprocessing of a message that failed), the outbound
queue and its dead letters (with retry), the destinations messages go to, and the senders the
listener takes messages from. Every change is audited. Refusals (an unknown destination, a
setting out of range...) are the HL7 service's own, answered by the one refusal handler."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from core_server import auth
from core_server.refusals import Conflict, NotFound, Refusal
from core_server.web.security import audit, require

router = APIRouter(prefix="/api/hl7", tags=["hl7"])
Admin = Annotated[auth.User, Depends(require("admin"))]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0)]


class DestinationIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(ge=1, le=65535)
    receiving_application: str = Field("", max_length=180, description="MSH-5 of what we send")
    receiving_facility: str = Field("", max_length=180, description="MSH-6 of what we send")
    charset: str = Field("UNICODE UTF-8", description="MSH-18: UNICODE UTF-8, GB 18030-2000, ASCII")
    purposes: str = Field(
        "order_status",
        description="what it is sent, comma-separated: order_status (exam status), results "
        "(reports, ORU^R01), critical_values (critical-value alerts, ORU^R01 flagged AA)",
    )
    status_message: str = Field("ORM", description="ORM (ORM^O01 v2.3.1) or OMI (OMI^O23 v2.5)")
    max_attempts: int = Field(10, ge=1, description="tries before a message is a dead letter")
    retry_base_seconds: float = Field(5.0, gt=0, description="first wait; doubles per try")
    retry_max_seconds: float = Field(600.0, gt=0, description="longest wait between tries")
    ack_timeout_seconds: float = Field(30.0, gt=0, description="how long to wait for the ACK")
    enabled: bool = True
    tls: bool = Field(False, description="MLLP over TLS, checked against tls_ca")


class DestinationChange(BaseModel):
    host: str | None = Field(None, min_length=1, max_length=255)
    port: int | None = Field(None, ge=1, le=65535)
    receiving_application: str | None = Field(None, max_length=180)
    receiving_facility: str | None = Field(None, max_length=180)
    charset: str | None = None
    purposes: str | None = None
    status_message: str | None = None
    max_attempts: int | None = Field(None, ge=1)
    retry_base_seconds: float | None = Field(None, gt=0)
    retry_max_seconds: float | None = Field(None, gt=0)
    ack_timeout_seconds: float | None = Field(None, gt=0)
    enabled: bool | None = None
    tls: bool | None = None


class SenderIn(BaseModel):
    """Who may send: any of an address (IP or network), MSH-3 and MSH-4; empty: anyone."""

    address: str = Field("", max_length=64, description="IP or network (10.1.0.0/16)")
    sending_application: str = Field("", max_length=180, description="MSH-3")
    sending_facility: str = Field("", max_length=180, description="MSH-4")
    note: str = Field("", max_length=255)


def _hl7(request: Request) -> Any:
    service = request.app.state.ctx.hl7
    if service is None:
        raise Refusal("hl7.api.unavailable", 503)
    return service


def _audit(request: Request, user: auth.User, action: str, target: str, detail: Any) -> None:
    audit(request, user, action, target, detail)


# -- summary ----------------------------------------------------------------------------------


@router.get("/status")
def interface_status(request: Request, user: Admin) -> dict[str, Any]:
    """Is the listener up, on which port; how many outbound messages wait, failed, went."""
    service = _hl7(request)
    counts = service.job_counts()
    return {
        "listening": bool(service.listener.running),
        "port": service.port,
        "sending": bool(service.sender.running),
        "outbound_waiting": counts.get("pending", 0) + counts.get("sending", 0),
        "dead_letters": counts.get("dead", 0),
        "destinations": [d.name for d in service.destinations()],
        # no sender named yet: the listener takes messages from this machine only
        "loopback_only": not service.allowed_senders(),
    }


# -- inbound ----------------------------------------------------------------------------------


@router.get("/messages")
def inbound_messages(
    request: Request,
    user: Admin,
    status_: Annotated[
        str,
        Query(
            alias="status",
            description="accepted, error, rejected, failed, processing, refused (sender not "
            "allowed)",
        ),
    ] = "",
    message_type: Annotated[str, Query(description="ADT, ORM^O01...")] = "",
    control_id: str = "",
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """Messages received, newest first, without their text."""
    found = _hl7(request).messages(
        status=status_,
        message_type=message_type,
        control_id=control_id,
        limit=limit,
        offset=offset,
    )
    return [m.as_dict() for m in found]


@router.get("/messages/{message_id}")
def inbound_message(request: Request, user: Admin, message_id: int) -> dict[str, Any]:
    """One message with its text and the ACK that answered it."""
    found = _hl7(request).message(message_id)
    if found is None:
        raise NotFound("hl7.api.no_message", id=message_id)
    return found.as_dict()  # type: ignore[no-any-return]


@router.post("/messages/{message_id}/reprocess")
def reprocess_message(request: Request, user: Admin, message_id: int) -> dict[str, Any]:
    """Apply a message that failed (AE, internal error) again, once its cause is put right."""
    service = _hl7(request)
    if service.message(message_id) is None:
        raise NotFound("hl7.api.no_message", id=message_id)
    outcome = service.reprocess(message_id)
    if outcome is None:
        raise Conflict("hl7.api.not_reprocessable")
    _audit(request, user, "hl7.reprocess", str(message_id), {"status": outcome})
    return service.message(message_id).as_dict()  # type: ignore[no-any-return]


# -- outbound ---------------------------------------------------------------------------------


@router.get("/outbound")
def outbound_jobs(
    request: Request,
    user: Admin,
    status_: Annotated[str, Query(alias="status", description="pending, sending, sent, dead")] = "",
    destination: str = "",
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """The outbound queue, newest first."""
    jobs = _hl7(request).jobs(status=status_, destination=destination, limit=limit, offset=offset)
    return [j.as_dict() for j in jobs]


@router.get("/dead-letters")
def dead_letters(
    request: Request, user: Admin, limit: Limit = 100, offset: Offset = 0
) -> list[dict[str, Any]]:
    """Messages given up on (out of tries, or rejected by the receiver): retry them by hand."""
    return [j.as_dict() for j in _hl7(request).jobs(status="dead", limit=limit, offset=offset)]


@router.get("/outbound/{job_id}")
def outbound_job(request: Request, user: Admin, job_id: int) -> dict[str, Any]:
    return _hl7(request).job(job_id).as_dict()  # type: ignore[no-any-return]


@router.post("/outbound/{job_id}/retry")
def retry_job(request: Request, user: Admin, job_id: int) -> dict[str, Any]:
    """Send a dead letter again (its tries start over), or a waiting message now."""
    job = _hl7(request).retry(job_id)
    _audit(request, user, "hl7.retry", str(job_id), {"destination": job.destination})
    return job.as_dict()  # type: ignore[no-any-return]


# -- destinations -----------------------------------------------------------------------------


@router.get("/destinations")
def destinations(request: Request, user: Admin) -> list[dict[str, Any]]:
    return [d.as_dict() for d in _hl7(request).destinations()]


@router.post("/destinations", status_code=201)
def add_destination(request: Request, user: Admin, body: DestinationIn) -> dict[str, Any]:
    added = _hl7(request).add_destination(**body.model_dump())
    _audit(request, user, "hl7.destination.create", added.name, body.model_dump())
    return added.as_dict()  # type: ignore[no-any-return]


@router.get("/destinations/{name}")
def destination(request: Request, user: Admin, name: str) -> dict[str, Any]:
    return _hl7(request).destination(name).as_dict()  # type: ignore[no-any-return]


@router.patch("/destinations/{name}")
def change_destination(
    request: Request, user: Admin, name: str, body: DestinationChange
) -> dict[str, Any]:
    changes = body.model_dump(exclude_none=True)
    changed = _hl7(request).update_destination(name, **changes)
    _audit(request, user, "hl7.destination.change", name, changes)
    return changed.as_dict()  # type: ignore[no-any-return]


@router.delete("/destinations/{name}", status_code=204)
def remove_destination(request: Request, user: Admin, name: str) -> None:
    _hl7(request).remove_destination(name)
    _audit(request, user, "hl7.destination.delete", name, {})


# -- senders ----------------------------------------------------------------------------------


@router.get("/senders")
def allowed_senders(request: Request, user: Admin) -> list[dict[str, Any]]:
    """Who the listener takes messages from; none: this machine (loopback) only."""
    return [s.as_dict() for s in _hl7(request).allowed_senders()]


@router.post("/senders", status_code=201)
def allow_sender(request: Request, user: Admin, body: SenderIn) -> dict[str, Any]:
    added = _hl7(request).allow_sender(**body.model_dump(), by=user.username)
    _audit(request, user, "hl7.sender.allow", str(added.id), body.model_dump())
    return added.as_dict()  # type: ignore[no-any-return]


@router.delete("/senders/{sender_id}", status_code=204)
def forbid_sender(request: Request, user: Admin, sender_id: int) -> None:
    gone = _hl7(request).forbid_sender(sender_id)
    _audit(request, user, "hl7.sender.forbid", str(sender_id), gone.as_dict())
