"""The supervisor's live view (14.1.3): a relay of JPEG frames from capture stations to the
browsers watching their room; nothing is stored.

- ``/api/capture/live/station`` (device key, kind ``capture``): the station's socket. The core
  sends ``{"watch": true}`` when its room's first viewer arrives and ``{"watch": false}`` when
  the last leaves (and the current state on connect); the station then sends binary JPEG
  frames (at most 5 a second, its own limit).
- ``/api/capture/live/rooms/{room}`` (admin, department_head): a viewer's socket; it receives
  each frame as one binary message. A slow viewer gets the newest frame, never a backlog.
- ``GET /api/capture/live/rooms``: the rooms with a station connected now.

The room is the station device's room (as enrolled), or its device name without one. The
relay lives in this process: with several core processes behind a balancer, viewers and the
station must reach the same one (sticky by room), which docs/capture-core.md says.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from core_server import auth, queueing
from core_server.web.security import require, websocket_user

SUPERVISORS = ("admin", "department_head")
NOT_A_STATION = 4403

router = APIRouter(prefix="/api/capture/live", tags=["capture"])


@dataclass
class Room:
    station: WebSocket | None = None
    viewers: set[asyncio.Queue[bytes]] = field(default_factory=set)


class Relay:
    """Rooms, their station and viewers; used from the event loop only."""

    def __init__(self) -> None:
        self.rooms: dict[str, Room] = {}

    def room(self, name: str) -> Room:
        return self.rooms.setdefault(name, Room())

    async def tell(self, room: Room) -> None:
        if room.station is not None:
            with contextlib.suppress(Exception):
                await room.station.send_json({"watch": bool(room.viewers)})

    def forward(self, room: Room, frame: bytes) -> None:
        for viewer in room.viewers:
            if viewer.full():  # keep only the newest frame for a slow viewer
                with contextlib.suppress(asyncio.QueueEmpty):
                    viewer.get_nowait()
            viewer.put_nowait(frame)

    def tidy(self, name: str) -> None:
        room = self.rooms.get(name)
        if room is not None and room.station is None and not room.viewers:
            del self.rooms[name]


def relay(app: Any) -> Relay:
    found: Relay = app.state.capture_live
    return found


@router.get("/rooms")
def live_rooms(
    request: Request, user: Annotated[auth.User, Depends(require(*SUPERVISORS))]
) -> dict[str, Any]:
    rooms = relay(request.app).rooms
    return {
        "rooms": [
            {"room": name, "watched": bool(room.viewers)}
            for name, room in sorted(rooms.items())
            if room.station is not None
        ]
    }


@router.websocket("/station")
async def station_socket(websocket: WebSocket) -> None:
    user = await websocket_user(websocket, "device")
    if user is None:
        return
    engine = websocket.app.state.ctx.engine
    device = await run_in_threadpool(queueing.devices.device_for_user, engine, user.username)
    await websocket.accept()
    if device is None or device.kind != "capture":
        await websocket.close(code=NOT_A_STATION)
        return
    live, name = relay(websocket.app), device.room or device.name
    room = live.room(name)
    if room.station is not None:  # a reconnect before the old socket noticed it was gone
        with contextlib.suppress(Exception):
            await room.station.close()
    room.station = websocket
    await live.tell(room)
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            frame = message.get("bytes")
            if frame:
                live.forward(room, frame)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        if room.station is websocket:
            room.station = None
        live.tidy(name)


@router.websocket("/rooms/{name}")
async def viewer_socket(websocket: WebSocket, name: str) -> None:
    user = await websocket_user(websocket, *SUPERVISORS)
    if user is None:
        return
    await websocket.accept()
    live = relay(websocket.app)
    room = live.room(name)
    frames: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1)
    room.viewers.add(frames)
    if len(room.viewers) == 1:
        await live.tell(room)
    closed = asyncio.create_task(_closed(websocket))
    try:
        while not closed.done():
            getter = asyncio.create_task(frames.get())
            done, _ = await asyncio.wait({getter, closed}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                break
            await websocket.send_bytes(getter.result())
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        closed.cancel()
        room.viewers.discard(frames)
        if not room.viewers:
            await live.tell(room)
        live.tidy(name)


async def _closed(websocket: WebSocket) -> None:
    """Returns when the viewer goes away (it sends nothing else)."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass


def install(app: FastAPI) -> None:
    app.state.capture_live = Relay()
    app.include_router(router)
