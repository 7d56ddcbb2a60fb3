"""Who may call what in the queue API, and the shape every action answers in (an
idempotent resend gets the first answer again, marked as a replay)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse

from core_server import auth, queueing
from core_server.queueing import (
    Device,
    Forbidden,
    QueueRefusal,
    QueueService,
    Replayed,
)
from core_server.web.refusals import caller_language
from core_server.web.security import audit, require

ADMIN = ("admin",)
# Who calls patients into a room: technicians, doctors of ultrasound/endoscopy rooms, devices.
CALLERS = ("admin", "technician", "reporting_doctor", "reviewing_doctor", "device")
# Who checks patients in and manages tickets: the desk, technicians, ticket printers.
DESK = ("admin", "registrar", "technician", "device")
# Who changes a ticket (priority, cancel, early return): people at the desk or in the room.
TICKET_STAFF = ("admin", "registrar", "technician")

# Who may look at screens: every role.
VIEWERS = auth.ROLES
STAFF = tuple(role for role in auth.ROLES if role != "device")


IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", max_length=128, min_length=1)
]


def service(request: Request) -> QueueService:
    service: QueueService | None = request.app.state.ctx.queueing
    if service is None:
        raise QueueRefusal("unavailable")
    return service


def device_of(request: Request, user: auth.User) -> Device | None:
    """The device record of a device user (None for staff); a device-role user that is no
    enrolled device may do nothing here."""
    if user.role != "device":
        return None
    device = queueing.devices.device_for_user(request.app.state.ctx.engine, user.username)
    if device is None:
        raise Forbidden("not_enrolled")
    return device


def room_scope(request: Request, user: auth.User) -> str | None:
    device = device_of(request, user)
    if device is None:
        return None
    if device.kind != "caller" or device.room is None:
        raise Forbidden("not_your_room")
    return device.room


Admin = Annotated[auth.User, Depends(require(*ADMIN))]


def record(request: Request, user: auth.User, action: str, target: str, **detail: Any) -> None:
    """Setup changes, device keys and ticket cancellations go to the audit trail."""
    audit(request, user, f"queueing.{action}", target, detail)


def idem_key(user: auth.User, key: str | None) -> tuple[str, str] | None:
    return (user.username, key) if key else None


def act(request: Request, action: Callable[[], Any], status: int = 200) -> Any:
    """Run an action; a resend answers the stored first answer, marked as a replay. A notice
    in the answer (``no_waiting_patient`` after closing the current patient) gets its words in
    the caller's language."""
    headers = {}
    try:
        result = action()
    except Replayed as replay:
        result, headers = (replay.status, replay.body), {"Idempotent-Replayed": "true"}
    status, body = result if isinstance(result, tuple) else (status, result)
    notice = body.get("notice") if isinstance(body, dict) else None
    if isinstance(notice, dict) and "code" in notice:
        words = QueueRefusal(str(notice["code"])).text(caller_language(request))
        body = {**body, "notice": {**notice, "message": words}}
    return JSONResponse(body, status_code=status, headers=headers)
