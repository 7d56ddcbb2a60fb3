"""REST API of the queue service (contract: ``docs/queue-api.md``) and its admin pages.

Refusals of the domain (:class:`~core_server.queueing.QueueRefusal`) are answered by the web's
one refusal handler: ``{"detail": {"code", "message", ...values}}`` in the caller's language
(``Accept-Language``: devices send theirs). Actions take an ``Idempotency-Key`` header; a
resend gets the first answer again with ``Idempotent-Replayed: true``. A device may act only
for the room, screen or queues it is bound to; staff roles for any.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from core_server import auth, queueing
from core_server.queueing import (
    Device,
    DisplaySettings,
    Forbidden,
    Queue,
    QueueRefusal,
    QueueService,
    Replayed,
    Room,
    Screen,
)
from core_server.queueing import views as queue_views
from core_server.queueing.refusals import invalid, not_found
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

router = APIRouter(prefix="/api/queueing", tags=["queueing"])

IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", max_length=128, min_length=1)
]


def _service(request: Request) -> QueueService:
    service: QueueService | None = request.app.state.ctx.queueing
    if service is None:
        raise QueueRefusal("unavailable")
    return service


def _device(request: Request, user: auth.User) -> Device | None:
    """The device record of a device user (None for staff); a device-role user that is no
    enrolled device may do nothing here."""
    if user.role != "device":
        return None
    device = queueing.devices.device_for_user(request.app.state.ctx.engine, user.username)
    if device is None:
        raise Forbidden("not_enrolled")
    return device


def _room_scope(request: Request, user: auth.User) -> str | None:
    device = _device(request, user)
    if device is None:
        return None
    if device.kind != "caller" or device.room is None:
        raise Forbidden("not_your_room")
    return device.room


Admin = Annotated[auth.User, Depends(require(*ADMIN))]


def _audit(request: Request, user: auth.User, action: str, target: str, **detail: Any) -> None:
    """Setup changes, device keys and ticket cancellations go to the audit trail."""
    audit(request, user, f"queueing.{action}", target, detail)


def _key(user: auth.User, key: str | None) -> tuple[str, str] | None:
    return (user.username, key) if key else None


def _act(request: Request, action: Callable[[], Any], status: int = 200) -> Any:
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


# -- devices ---------------------------------------------------------------------------------------


class DeviceIn(BaseModel):
    name: str = Field(min_length=1, max_length=48)
    kind: str
    room: str | None = None
    screen: str | None = None
    queues: list[str] = []


@router.get("/devices", dependencies=[Depends(require(*ADMIN))])
def list_devices(request: Request) -> list[dict[str, Any]]:
    return [d.as_dict() for d in queueing.devices.list_devices(request.app.state.ctx.engine)]


@router.post("/devices", status_code=201)
def add_device(request: Request, body: DeviceIn, user: Admin) -> dict[str, Any]:
    engine = request.app.state.ctx.engine
    device, key = queueing.devices.create_device(
        engine, body.name, body.kind, room=body.room, screen=body.screen, queues=tuple(body.queues)
    )
    _service(request).journal_config_change("device", device.name)
    _audit(request, user, "device.create", f"device:{device.name}", kind=device.kind)
    return {**_device_dict(device), "key": key}


def _device_dict(device: Device) -> dict[str, Any]:
    return {k: v for k, v in device.as_dict().items() if k != "username"}


@router.post("/devices/{name}/key")
def renew_device_key(request: Request, name: str, user: Admin) -> dict[str, Any]:
    key = queueing.devices.new_key(request.app.state.ctx.engine, name)
    _audit(request, user, "device.new_key", f"device:{name}")
    return {"name": name, "key": key}


@router.delete("/devices/{name}", status_code=204)
def remove_device(request: Request, name: str, user: Admin) -> Response:
    queueing.devices.delete_device(request.app.state.ctx.engine, name)
    _audit(request, user, "device.delete", f"device:{name}")
    _service(request).journal_config_change("device", name)
    return Response(status_code=204)


@router.get("/devices/me")
def device_me(
    request: Request, user: Annotated[auth.User, Depends(require("device"))]
) -> dict[str, Any]:
    device = _device(request, user)
    assert device is not None
    queueing.devices.touch(request.app.state.ctx.engine, user.username)
    queues = device.queues
    service = _service(request)
    if device.kind == "caller" and device.room:
        queues = service.room(device.room).queues
    elif device.kind == "screen" and device.screen:
        queues = service.screen(device.screen).queues
    # What a kiosk prints and shows from its first ticket on, without settings of its own.
    hospital = queue_views.hospital(service.settings())
    return {**_device_dict(device), "queues": list(queues), "hospital": hospital}


# -- rooms, queues, screens, settings (administration) ---------------------------------------------


class RoomIn(BaseModel):
    code: str
    name: str
    department: str = ""
    modality: str = ""
    queues: list[str] = []
    min_call_interval_seconds: int = 5
    position: int = 0


class RoomChange(BaseModel):
    name: str | None = None
    department: str | None = None
    modality: str | None = None
    queues: list[str] | None = None
    min_call_interval_seconds: int | None = None
    position: int | None = None


class QueueIn(BaseModel):
    code: str
    name: str
    department: str = ""
    modality: str = ""
    prefix: str = ""
    order_by: str = "arrival"
    priority_groups: list[str] = list(queueing.PRIORITY_GROUPS)
    late_grace_minutes: int = 15
    late_rule: str = "back"
    late_insert_every: int = 3
    missed_suspend_minutes: int = 5
    missed_rule: str = "insert"
    missed_insert_every: int = 2
    missed_max: int = 3
    voice_template: str = Queue.voice_template
    voice_repeat: int = 2
    position: int = 0


class QueueChange(BaseModel):
    name: str | None = None
    department: str | None = None
    modality: str | None = None
    prefix: str | None = None
    order_by: str | None = None
    priority_groups: list[str] | None = None
    late_grace_minutes: int | None = None
    late_rule: str | None = None
    late_insert_every: int | None = None
    missed_suspend_minutes: int | None = None
    missed_rule: str | None = None
    missed_insert_every: int | None = None
    missed_max: int | None = None
    voice_template: str | None = None
    voice_repeat: int | None = None
    position: int | None = None


class ScreenIn(BaseModel):
    code: str
    name: str
    orientation: str = "landscape"
    rows: int = 8
    page_seconds: int = 8
    mask_names: bool = True
    queues: list[str] = []


class ScreenChange(BaseModel):
    name: str | None = None
    orientation: str | None = None
    rows: int | None = None
    page_seconds: int | None = None
    mask_names: bool | None = None
    queues: list[str] | None = None


def _record(kind: type[Any], body: BaseModel) -> Any:
    """A Room, Queue or Screen from a request body (lists become tuples)."""
    values = body.model_dump()
    return kind(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def _changed(current: Any, change: BaseModel) -> Any:
    values = {
        k: tuple(v) if isinstance(v, list) else v
        for k, v in change.model_dump(exclude_none=True).items()
    }
    return replace(current, **values)


def _crud(
    what: Literal["room", "queue", "screen"],
    kind: type[Any],
    create_body: type[BaseModel],
    change_body: type[BaseModel],
) -> None:
    """The one set of set-up routes for rooms, queues and screens: list, create, read,
    change, delete; every change audited. The service's methods are named after ``what``."""
    plural = f"/{what}s"

    def service_call(request: Request, name: str) -> Callable[..., Any]:
        return getattr(_service(request), name.format(what))  # type: ignore[no-any-return]

    def listed(request: Request) -> list[dict[str, Any]]:
        return [r.as_dict() for r in service_call(request, "{}s")()]

    def create(request: Request, body: BaseModel, user: auth.User) -> dict[str, Any]:
        saved = service_call(request, "save_{}")(_record(kind, body), create=True)
        _audit(request, user, f"{what}.create", f"{what}:{saved.code}")
        return saved.as_dict()  # type: ignore[no-any-return]

    def read(request: Request, code: str) -> dict[str, Any]:
        return service_call(request, "{}")(code).as_dict()  # type: ignore[no-any-return]

    def change(request: Request, code: str, body: BaseModel, user: auth.User) -> dict[str, Any]:
        current = service_call(request, "{}")(code)
        saved = service_call(request, "save_{}")(_changed(current, body), create=False)
        _audit(
            request, user, f"{what}.change", f"{what}:{code}", **body.model_dump(exclude_none=True)
        )
        return saved.as_dict()  # type: ignore[no-any-return]

    def remove(request: Request, code: str, user: auth.User) -> Response:
        service_call(request, "delete_{}")(code)
        _audit(request, user, f"{what}.delete", f"{what}:{code}")
        return Response(status_code=204)

    # FastAPI reads the body's model from the annotations: give each kind its own.
    create.__annotations__["body"] = create_body
    change.__annotations__["body"] = change_body
    create.__annotations__["user"] = change.__annotations__["user"] = Admin
    remove.__annotations__["user"] = Admin
    staff = [Depends(require(*STAFF))]
    for endpoint, path, method, status in (
        (listed, plural, "GET", 200),
        (create, plural, "POST", 201),
        (read, plural + "/{code}", "GET", 200),
        (change, plural + "/{code}", "PATCH", 200),
        (remove, plural + "/{code}", "DELETE", 204),
    ):
        endpoint.__name__ = f"{endpoint.__name__}_{what}"
        router.add_api_route(
            path,
            endpoint,
            methods=[method],
            status_code=status,
            dependencies=staff if method == "GET" else [],
        )


_crud("room", Room, RoomIn, RoomChange)
_crud("queue", Queue, QueueIn, QueueChange)
_crud("screen", Screen, ScreenIn, ScreenChange)


@router.get("/queues/{code}/tickets", dependencies=[Depends(require(*STAFF))])
def queue_tickets(request: Request, code: str, status: str | None = None) -> list[dict[str, Any]]:
    return [t.as_dict() for t in _service(request).queue_tickets(code, status)]


class AdoptIn(BaseModel):
    rooms: list[str] = []


@router.get("/ris-rooms", dependencies=[Depends(require(*ADMIN))])
def ris_rooms(request: Request) -> list[dict[str, Any]]:
    """The RIS's exam rooms, each marked ``adopted`` when the queue has a room of its code."""
    return _service(request).ris_rooms()


@router.post("/ris-rooms/adopt")
def adopt_ris_rooms(request: Request, body: AdoptIn, user: Admin) -> dict[str, list[str]]:
    """A call room for each RIS room (default: every one not adopted yet), a queue per
    modality, and a waiting-room screen when there is none."""
    made = _service(request).adopt_ris_rooms(tuple(body.rooms))
    _audit(request, user, "ris_rooms.adopt", "rooms", **made)
    return made


class SettingsIn(BaseModel):
    """The time zone is the core's (``--timezone``): GET shows it, PUT ignores it."""

    hospital_name: str = ""
    font_title: int = 48
    font_header: int = 36
    font_list: int = 32
    font_call: int = 64
    font_clock: int = 28
    voice_enabled: bool = True
    voice_rate: int = 150
    voice_name: str = "full"


@router.get("/settings", dependencies=[Depends(require(*STAFF))])
def get_settings(request: Request) -> dict[str, Any]:
    return _service(request).settings().as_dict()


@router.put("/settings")
def put_settings(request: Request, body: SettingsIn, user: Admin) -> dict[str, Any]:
    saved = _service(request).save_settings(DisplaySettings(**body.model_dump())).as_dict()
    _audit(request, user, "settings.change", "settings", **body.model_dump())
    return saved


@router.put("/logo", status_code=204)
def put_logo(
    request: Request, data: Annotated[bytes, Body(media_type="image/png")], user: Admin
) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    _service(request).save_logo(data, content_type)
    _audit(request, user, "settings.logo", "settings", content_type=content_type, size=len(data))
    return Response(status_code=204)


@router.get("/logo", dependencies=[Depends(require(*VIEWERS))])
def get_logo(request: Request) -> Response:
    logo = _service(request).logo()
    if logo is None:
        raise not_found("logo", "")
    data, content_type = logo
    return Response(data, media_type=content_type, headers={"Cache-Control": "no-cache"})


# -- what screens and callers show -----------------------------------------------------------------


@router.get("/screens/{code}/state")
def screen_state(
    request: Request, code: str, user: Annotated[auth.User, Depends(require(*VIEWERS))]
) -> dict[str, Any]:
    device = _device(request, user)
    if device is not None and not (device.kind == "screen" and device.screen == code):
        raise Forbidden("not_your_screen")
    return _service(request).screen_state(code)


@router.get("/rooms/{code}/state")
def room_state(
    request: Request, code: str, user: Annotated[auth.User, Depends(require(*CALLERS))]
) -> dict[str, Any]:
    allowed = _room_scope(request, user)
    if allowed is not None and allowed != code:
        raise Forbidden("not_your_room", "other", room=allowed)
    return _service(request).room_state(code)


# -- caller actions --------------------------------------------------------------------------------

Caller = Annotated[auth.User, Depends(require(*CALLERS))]


class CallNextIn(BaseModel):
    close_current: bool = True


class CallIn(BaseModel):
    ticket_id: int
    close_current: bool = True


@router.post("/rooms/{code}/call-next")
def call_next(
    request: Request,
    code: str,
    user: Caller,
    key: IdempotencyKey = None,
    body: CallNextIn | None = None,
) -> Any:
    room = _room_scope(request, user)
    close = body.close_current if body is not None else True
    return _act(
        request,
        lambda: _service(request).call_next(
            code,
            username=user.username,
            close_current=close,
            allowed_room=room,
            key=_key(user, key),
        ),
    )


@router.post("/rooms/{code}/call")
def call_chosen(
    request: Request, code: str, body: CallIn, user: Caller, key: IdempotencyKey = None
) -> Any:
    room = _room_scope(request, user)
    return _act(
        request,
        lambda: _service(request).call_ticket(
            code,
            body.ticket_id,
            username=user.username,
            close_current=body.close_current,
            allowed_room=room,
            key=_key(user, key),
        ),
    )


def _room_action(name: str) -> Callable[..., Any]:
    def action(request: Request, code: str, user: Caller, key: IdempotencyKey = None) -> Any:
        room = _room_scope(request, user)
        method = getattr(_service(request), name)
        return _act(
            request,
            lambda: method(code, username=user.username, allowed_room=room, key=_key(user, key)),
        )

    action.__name__ = name
    return action


for _path, _name in (
    ("recall", "recall"),
    ("missed", "missed"),
    ("start", "start"),
    ("finish", "finish"),
):
    router.add_api_route(f"/rooms/{{code}}/{_path}", _room_action(_name), methods=["POST"])


@router.post("/rooms/{code}/pause")
def pause_room(request: Request, code: str, user: Caller) -> dict[str, Any]:
    room = _room_scope(request, user)
    return _service(request).pause(code, username=user.username, allowed_room=room)


@router.post("/rooms/{code}/resume")
def resume_room(request: Request, code: str, user: Caller) -> dict[str, Any]:
    room = _room_scope(request, user)
    return _service(request).pause(code, username=user.username, paused=False, allowed_room=room)


# -- check-in and tickets --------------------------------------------------------------------------

Desk = Annotated[auth.User, Depends(require(*DESK))]


class CheckInIn(BaseModel):
    barcode: str = Field("", max_length=64)
    exam_id: int | None = None
    accession: str = Field("", max_length=64)
    queue: str | None = None
    priority: str | None = None


@router.post("/check-in")
def check_in(request: Request, body: CheckInIn, user: Desk, key: IdempotencyKey = None) -> Any:
    allowed: tuple[str, ...] = ()
    device = _device(request, user)
    if device is not None:
        if device.kind != "printer":
            raise Forbidden("not_a_printer")
        allowed = device.queues
    if not (body.barcode.strip() or body.exam_id is not None or body.accession.strip()):
        raise invalid("barcode")
    return _act(
        request,
        lambda: _service(request).check_in(
            username=user.username,
            barcode=body.barcode,
            exam_id=body.exam_id,
            accession=body.accession,
            queue=body.queue,
            priority=body.priority,
            allowed_queues=allowed,
            key=_key(user, key),
        ),
    )


@router.get("/tickets/{ticket_id}", dependencies=[Depends(require(*STAFF))])
def get_ticket(request: Request, ticket_id: int) -> dict[str, Any]:
    return _service(request).ticket(ticket_id).as_dict()


@router.get("/tickets/{ticket_id}/print", dependencies=[Depends(require(*DESK))])
def print_ticket(request: Request, ticket_id: int) -> dict[str, Any]:
    return _service(request).print_ticket(ticket_id)


class PriorityIn(BaseModel):
    priority: str | None = None


@router.patch("/tickets/{ticket_id}", dependencies=[Depends(require(*TICKET_STAFF))])
def change_ticket(request: Request, ticket_id: int, body: PriorityIn) -> dict[str, Any]:
    return _service(request).set_priority(ticket_id, body.priority).as_dict()


@router.post("/tickets/{ticket_id}/cancel")
def cancel_ticket(
    request: Request,
    ticket_id: int,
    user: Annotated[auth.User, Depends(require(*TICKET_STAFF))],
) -> dict[str, Any]:
    cancelled = _service(request).cancel(ticket_id, username=user.username)
    _audit(request, user, "ticket.cancel", f"ticket:{cancelled.number}", ticket_id=ticket_id)
    return cancelled.as_dict()


@router.post(
    "/tickets/{ticket_id}/return",
    dependencies=[Depends(require(*TICKET_STAFF))],
)
def return_ticket(request: Request, ticket_id: int) -> dict[str, Any]:
    return _service(request).return_early(ticket_id).as_dict()


def install(app: FastAPI) -> None:
    """The queue API (its refusals go to the web's one handler)."""
    app.include_router(router)


__all__ = ["install", "router"]
