"""Device enrolment: a screen, caller or ticket printer is a ``device``-role user with one
long-lived key, bound here to the room, screen or queues it serves.

The key is an ordinary bearer token of the auth domain (only its SHA-256 is stored), so every
route's role check and the WebSocket accept it like a staff token; revoking it is deactivating
the user, which ends its tokens at once.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from core_server import auth, clock, db
from core_server.queueing import config
from core_server.queueing.models import Device
from core_server.queueing.refusals import QueueRefusal, invalid, not_found
from core_server.queueing.tables import devices, rooms, screens

KEY_HOURS = 10 * 365 * 24  # a device key lives until revoked (ten years)
# kiosk: the disc kiosk; capture: a capture station (ultrasound, endoscopy)
KINDS = ("screen", "caller", "printer", "kiosk", "capture")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$")
USER_PREFIX = "device-"


def _device(row: Any) -> Device:
    return Device(
        name=row.name,
        kind=row.kind,
        room=row.room_code,
        screen=row.screen_code,
        queues=tuple(q for q in row.queues.split(",") if q),
        username=row.username,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
    )


def _select() -> Any:
    return (
        select(devices, rooms.c.code.label("room_code"), screens.c.code.label("screen_code"))
        .outerjoin(rooms, rooms.c.id == devices.c.room_id)
        .outerjoin(screens, screens.c.id == devices.c.screen_id)
    )


def list_devices(engine: Engine) -> list[Device]:
    with db.read(engine) as conn:
        return [_device(r) for r in conn.execute(_select().order_by(devices.c.name))]


def device_for_user(engine: Engine, username: str) -> Device | None:
    with db.read(engine) as conn:
        row = conn.execute(_select().where(devices.c.username == username)).first()
    return _device(row) if row is not None else None


def touch(engine: Engine, username: str) -> None:
    with db.write(engine) as conn:
        conn.execute(
            update(devices).where(devices.c.username == username).values(last_seen_at=clock.now())
        )


# A device is "seen" by every request it makes and while its event socket is open; the row is
# written at most once per this many seconds per device and process (monitoring calls a device
# offline after minutes, and a screen polls every 30 s: one write a request would be waste).
SEEN_EVERY = 60.0
_last_written: dict[tuple[str, str], float] = {}
_seen_lock = threading.Lock()


def seen(engine: Engine, username: str) -> None:
    """The device ``username`` is alive now (throttled :func:`touch`)."""
    now, key = time.monotonic(), (str(engine.url), username)
    with _seen_lock:
        if now - _last_written.get(key, -SEEN_EVERY) < SEEN_EVERY:
            return
        _last_written[key] = now
    touch(engine, username)


def create_device(
    engine: Engine,
    name: str,
    kind: str,
    *,
    room: str | None = None,
    screen: str | None = None,
    queues: tuple[str, ...] = (),
) -> tuple[Device, str]:
    """The new device and its key (shown once: only its hash is kept)."""
    if not _NAME.match(name):
        raise invalid("device_name", name=name)
    if kind not in KINDS:
        raise invalid("device_kind", kinds=", ".join(KINDS))
    if kind == "caller" and not room:
        raise invalid("caller_room")
    if kind == "screen" and not screen:
        raise invalid("screen_screen")
    username = USER_PREFIX + name
    with db.read(engine) as conn:
        room_id = config.room_row(conn, room).id if room else None
        screen_id = config.screen_row(conn, screen).id if screen else None
        for code in queues:
            config.queue_row(conn, code)
        if conn.execute(select(devices.c.id).where(devices.c.name == name)).first():
            raise QueueRefusal("exists", "device", code=name)
    existing = auth.get_user(engine, username)
    if existing is None:
        user = auth.create_user(
            engine, username, secrets.token_urlsafe(32), "device", display_name=f"{kind} {name}"
        )
    elif existing.role == "device" and not existing.active:  # a deleted device's name again
        user = auth.update_user(engine, username, active=True)
    else:
        raise QueueRefusal("exists", "user", code=username)
    try:
        with db.write(engine) as conn:
            conn.execute(
                insert(devices).values(
                    name=name,
                    kind=kind,
                    username=username,
                    room_id=room_id,
                    screen_id=screen_id,
                    queues=",".join(queues),
                    created_at=clock.now(),
                )
            )
    except Exception:
        auth.update_user(engine, username, active=False)
        raise
    key = auth.issue_token(engine, user, KEY_HOURS)
    found = device_for_user(engine, username)
    assert found is not None
    return found, key


def new_key(engine: Engine, name: str) -> str:
    """A new key for the device; the old one stops working at once."""
    device = _by_name(engine, name)
    auth.update_user(engine, device.username, active=False)  # ends every token it holds
    user = auth.update_user(engine, device.username, active=True)
    return auth.issue_token(engine, user, KEY_HOURS)


def delete_device(engine: Engine, name: str) -> None:
    device = _by_name(engine, name)
    auth.update_user(engine, device.username, active=False)
    with db.write(engine) as conn:
        conn.execute(delete(devices).where(devices.c.name == name))


def _by_name(engine: Engine, name: str) -> Device:
    with db.read(engine) as conn:
        row = conn.execute(_select().where(devices.c.name == name)).first()
    if row is None:
        raise not_found("device", name)
    return _device(row)
