"""``/api/ws``: the one WebSocket endpoint that pushes events (contract: ``docs/queue-api.md``).

Authentication: ``Authorization: Bearer``, a ``token`` query parameter or the session cookie
(checked before the handshake by :func:`websocket_user`), or else a first message
``{"type": "auth", "token": ..., "since": n}`` within 10 s. Then: ``hello`` with the newest
sequence number; with ``since``, the events after it from the journal (or ``resync`` when they
are no longer kept); then every new event in sequence order as the feed delivers it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from core_server import auth, db, queueing
from core_server.queueing import Event, QueueService
from core_server.queueing import journal as journal_reader
from core_server.web.security import SESSION_COOKIE, websocket_user

log = logging.getLogger(__name__)
router = APIRouter()

AUTH_SECONDS = 10
# What the sender sends: journal events, control messages, and None to end.
Outbox = asyncio.Queue[Event | dict[str, Any] | None]
NOT_AUTHENTICATED = 4401


def _catch_up(service: QueueService, since: int | None) -> tuple[int, list[Event], bool]:
    """(newest seq, events after ``since``, whether they are all still kept)."""
    with db.read(service.engine) as conn:
        newest = journal_reader.latest(conn)
        if since is None:
            return newest, [], True
        if not journal_reader.can_replay(conn, since):
            return newest, [], False
        events: list[Event] = []
        after = since
        while after < newest:
            batch = journal_reader.since(conn, after)
            if not batch:
                break
            events += batch
            after = batch[-1].seq
        return newest, events, True


def _since(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


async def _first_message_user(websocket: WebSocket) -> tuple[auth.User | None, int | None]:
    try:
        message = await asyncio.wait_for(websocket.receive_json(), AUTH_SECONDS)
    except (TimeoutError, ValueError, WebSocketDisconnect):
        return None, None
    if not isinstance(message, dict) or message.get("type") != "auth":
        return None, None
    token = str(message.get("token") or "")
    engine = websocket.app.state.ctx.engine
    user = await run_in_threadpool(auth.user_for_token, engine, token) if token else None
    return user, _since(message.get("since"))


@router.websocket("/api/ws")
async def events(websocket: WebSocket) -> None:
    service: QueueService | None = websocket.app.state.ctx.queueing
    presented = (
        websocket.headers.get("authorization")
        or websocket.query_params.get("token")
        or websocket.cookies.get(SESSION_COOKIE)
    )
    if presented:
        user = await websocket_user(websocket, *auth.ROLES)
        if user is None:
            return
        await websocket.accept()
        since = _since(websocket.query_params.get("since"))
    else:
        await websocket.accept()
        user, since = await _first_message_user(websocket)
        if user is None:
            await websocket.close(code=NOT_AUTHENTICATED)
            return
    if service is None:
        await websocket.close(code=1011)
        return

    loop = asyncio.get_running_loop()
    outbox: Outbox = asyncio.Queue()

    def deliver(event: Event) -> None:  # called on the feed's thread
        loop.call_soon_threadsafe(outbox.put_nowait, event)

    service.feed.add(deliver)
    try:
        newest, replay, kept = await run_in_threadpool(_catch_up, service, since)
        await websocket.send_json(
            {"type": "hello", "seq": newest, "user": user.username, "role": user.role}
        )
        last = newest
        if since is not None and kept:
            last = since
            for event in replay:
                await websocket.send_json(event.as_message())
                last = event.seq
        elif since is not None:
            await websocket.send_json({"type": "resync", "seq": newest})
        receiver = asyncio.create_task(_receive(websocket, outbox, service))
        alive = asyncio.create_task(_seen_while_open(websocket, user))
        try:
            while True:
                item = await outbox.get()
                if item is None:
                    return
                if isinstance(item, Event):
                    if item.seq <= last:
                        continue
                    await websocket.send_json(item.as_message())
                    last = item.seq
                else:
                    await websocket.send_json(item)
        finally:
            for task in (receiver, alive):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    except WebSocketDisconnect:
        pass
    finally:
        service.feed.remove(deliver)


async def _seen_while_open(websocket: WebSocket, user: auth.User) -> None:
    """A device holding its event socket open is alive, even when it sends no request."""
    if user.role != "device":
        return
    engine = websocket.app.state.ctx.engine
    while True:
        await run_in_threadpool(queueing.devices.seen, engine, user.username)
        await asyncio.sleep(queueing.devices.SEEN_EVERY)


async def _receive(
    websocket: WebSocket,
    outbox: asyncio.Queue[Event | dict[str, Any] | None],
    service: QueueService,
) -> None:
    """Answers pings; ends the connection (a ``None`` in the outbox) when the client leaves."""
    try:
        while True:
            message = await websocket.receive_json()
            if isinstance(message, dict) and message.get("type") == "ping":
                newest = await run_in_threadpool(_catch_up, service, None)
                outbox.put_nowait({"type": "pong", "seq": newest[0]})
    except (WebSocketDisconnect, ValueError, RuntimeError):
        pass
    outbox.put_nowait(None)
