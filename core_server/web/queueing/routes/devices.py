"""Enrolled devices (display screens, caller terminals, ticket printers): their keys, and
what a device asks about itself."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from core_server import auth, queueing
from core_server.queueing import Device
from core_server.queueing import views as queue_views
from core_server.web.queueing.routes.access import (
    ADMIN,
    Admin,
    device_of,
    record,
    service,
)
from core_server.web.security import require

router = APIRouter()


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
    service(request).journal_config_change("device", device.name)
    record(request, user, "device.create", f"device:{device.name}", kind=device.kind)
    return {**_device_dict(device), "key": key}


def _device_dict(device: Device) -> dict[str, Any]:
    return {k: v for k, v in device.as_dict().items() if k != "username"}


@router.post("/devices/{name}/key")
def renew_device_key(request: Request, name: str, user: Admin) -> dict[str, Any]:
    key = queueing.devices.new_key(request.app.state.ctx.engine, name)
    record(request, user, "device.new_key", f"device:{name}")
    return {"name": name, "key": key}


@router.delete("/devices/{name}", status_code=204)
def remove_device(request: Request, name: str, user: Admin) -> Response:
    queueing.devices.delete_device(request.app.state.ctx.engine, name)
    record(request, user, "device.delete", f"device:{name}")
    service(request).journal_config_change("device", name)
    return Response(status_code=204)


@router.get("/devices/me")
def device_me(
    request: Request, user: Annotated[auth.User, Depends(require("device"))]
) -> dict[str, Any]:
    device = device_of(request, user)
    assert device is not None  # seen: every request a device makes marks it (web.security)
    queues = device.queues
    queue_service = service(request)
    if device.kind == "caller" and device.room:
        queues = queue_service.room(device.room).queues
    elif device.kind == "screen" and device.screen:
        queues = queue_service.screen(device.screen).queues
    # What a kiosk prints and shows from its first ticket on, without settings of its own.
    hospital = queue_views.hospital(queue_service.settings())
    return {**_device_dict(device), "queues": list(queues), "hospital": hospital}
