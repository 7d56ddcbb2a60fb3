"""What screens and callers show, and the caller's actions on a room."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from core_server import auth
from core_server.queueing import Forbidden
from core_server.web.queueing.routes.access import (
    CALLERS,
    VIEWERS,
    IdempotencyKey,
    act,
    device_of,
    idem_key,
    room_scope,
    service,
)
from core_server.web.security import require

router = APIRouter()


@router.get("/screens/{code}/state")
def screen_state(
    request: Request, code: str, user: Annotated[auth.User, Depends(require(*VIEWERS))]
) -> dict[str, Any]:
    device = device_of(request, user)
    if device is not None and not (device.kind == "screen" and device.screen == code):
        raise Forbidden("not_your_screen")
    return service(request).screen_state(code)


@router.get("/rooms/{code}/state")
def room_state(
    request: Request, code: str, user: Annotated[auth.User, Depends(require(*CALLERS))]
) -> dict[str, Any]:
    allowed = room_scope(request, user)
    if allowed is not None and allowed != code:
        raise Forbidden("not_your_room", "other", room=allowed)
    return service(request).room_state(code)


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
    room = room_scope(request, user)
    close = body.close_current if body is not None else True
    return act(
        request,
        lambda: service(request).call_next(
            code,
            username=user.username,
            close_current=close,
            allowed_room=room,
            key=idem_key(user, key),
        ),
    )


@router.post("/rooms/{code}/call")
def call_chosen(
    request: Request, code: str, body: CallIn, user: Caller, key: IdempotencyKey = None
) -> Any:
    room = room_scope(request, user)
    return act(
        request,
        lambda: service(request).call_ticket(
            code,
            body.ticket_id,
            username=user.username,
            close_current=body.close_current,
            allowed_room=room,
            key=idem_key(user, key),
        ),
    )


def _room_action(name: str) -> Callable[..., Any]:
    def action(request: Request, code: str, user: Caller, key: IdempotencyKey = None) -> Any:
        room = room_scope(request, user)
        method = getattr(service(request), name)
        return act(
            request,
            lambda: method(
                code, username=user.username, allowed_room=room, key=idem_key(user, key)
            ),
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
    room = room_scope(request, user)
    return service(request).pause(code, username=user.username, allowed_room=room)


@router.post("/rooms/{code}/resume")
def resume_room(request: Request, code: str, user: Caller) -> dict[str, Any]:
    room = room_scope(request, user)
    return service(request).pause(code, username=user.username, paused=False, allowed_room=room)
