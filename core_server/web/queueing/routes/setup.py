"""The queue's administration: rooms, queues, screens, display settings and the logo, and
adopting the RIS's rooms in one step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Request, Response
from pydantic import BaseModel

from core_server import auth, queueing
from core_server.queueing import (
    DisplaySettings,
    Queue,
    Room,
    Screen,
)
from core_server.queueing.refusals import not_found
from core_server.web.queueing.routes.access import (
    ADMIN,
    STAFF,
    VIEWERS,
    Admin,
    record,
    service,
)
from core_server.web.security import require

router = APIRouter()


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
        return getattr(service(request), name.format(what))  # type: ignore[no-any-return]

    def listed(request: Request) -> list[dict[str, Any]]:
        return [r.as_dict() for r in service_call(request, "{}s")()]

    def create(request: Request, body: BaseModel, user: auth.User) -> dict[str, Any]:
        saved = service_call(request, "save_{}")(_record(kind, body), create=True)
        record(request, user, f"{what}.create", f"{what}:{saved.code}")
        return saved.as_dict()  # type: ignore[no-any-return]

    def read(request: Request, code: str) -> dict[str, Any]:
        return service_call(request, "{}")(code).as_dict()  # type: ignore[no-any-return]

    def change(request: Request, code: str, body: BaseModel, user: auth.User) -> dict[str, Any]:
        current = service_call(request, "{}")(code)
        saved = service_call(request, "save_{}")(_changed(current, body), create=False)
        record(
            request, user, f"{what}.change", f"{what}:{code}", **body.model_dump(exclude_none=True)
        )
        return saved.as_dict()  # type: ignore[no-any-return]

    def remove(request: Request, code: str, user: auth.User) -> Response:
        service_call(request, "delete_{}")(code)
        record(request, user, f"{what}.delete", f"{what}:{code}")
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
    return [t.as_dict() for t in service(request).queue_tickets(code, status)]


class AdoptIn(BaseModel):
    rooms: list[str] = []


@router.get("/ris-rooms", dependencies=[Depends(require(*ADMIN))])
def ris_rooms(request: Request) -> list[dict[str, Any]]:
    """The RIS's exam rooms, each marked ``adopted`` when the queue has a room of its code."""
    return service(request).ris_rooms()


@router.post("/ris-rooms/adopt")
def adopt_ris_rooms(request: Request, body: AdoptIn, user: Admin) -> dict[str, list[str]]:
    """A call room for each RIS room (default: every one not adopted yet), a queue per
    modality, and a waiting-room screen when there is none."""
    made = service(request).adopt_ris_rooms(tuple(body.rooms))
    record(request, user, "ris_rooms.adopt", "rooms", **made)
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
    return service(request).settings().as_dict()


@router.put("/settings")
def put_settings(request: Request, body: SettingsIn, user: Admin) -> dict[str, Any]:
    saved = service(request).save_settings(DisplaySettings(**body.model_dump())).as_dict()
    record(request, user, "settings.change", "settings", **body.model_dump())
    return saved


@router.put("/logo", status_code=204)
def put_logo(
    request: Request, data: Annotated[bytes, Body(media_type="image/png")], user: Admin
) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    service(request).save_logo(data, content_type)
    record(request, user, "settings.logo", "settings", content_type=content_type, size=len(data))
    return Response(status_code=204)


@router.get("/logo", dependencies=[Depends(require(*VIEWERS))])
def get_logo(request: Request) -> Response:
    logo = service(request).logo()
    if logo is None:
        raise not_found("logo", "")
    data, content_type = logo
    return Response(data, media_type=content_type, headers={"Cache-Control": "no-cache"})
