"""What the administrator sets up: rooms, queues, screens, display settings. Functions on an
open connection; :class:`~core_server.queueing.setup.Setup` wraps them in transactions and
journals the change.

Rooms, queues and screens share one way of being listed, read, created, changed and deleted
(:class:`Kind` and the functions below it); each kind adds its own checks and its links to
queues (a room serves queues, a screen shows them).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any

from sqlalchemy import Column, Connection, Table, delete, func, insert, select, update

from core_server import clock
from core_server.queueing import voice
from core_server.queueing.models import (
    PRIORITY_GROUPS,
    DisplaySettings,
    Queue,
    Room,
    RoomState,
    Screen,
)
from core_server.queueing.refusals import QueueRefusal, invalid, not_found
from core_server.queueing.tables import (
    queues,
    room_queues,
    rooms,
    screen_queues,
    screens,
    settings,
    tickets,
)

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
_PREFIX = re.compile(r"^[A-Za-z0-9]{0,8}$")


@dataclass(frozen=True)
class Kind:
    """A kind of set-up record: its name in refusals and events, its table and order."""

    what: str  # room | queue | screen
    table: Table

    def order(self) -> tuple[Column[Any], ...]:
        columns = self.table.c
        return (columns.position, columns.code) if "position" in columns else (columns.code,)


ROOM = Kind("room", rooms)
QUEUE = Kind("queue", queues)
SCREEN = Kind("screen", screens)


def row_of(conn: Connection, kind: Kind, code: str, *, lock: bool = False) -> Any:
    query = select(kind.table).where(kind.table.c.code == code)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise not_found(kind.what, code)
    return row


def rows_of(conn: Connection, kind: Kind) -> list[Any]:
    return list(conn.execute(select(kind.table).order_by(*kind.order())).all())


def _check_code(code: str) -> None:
    if not _CODE.match(code):
        raise invalid("code", code=code)


def _check_name(name: str) -> None:
    if not name.strip() or len(name) > 64:
        raise invalid("name")


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise invalid("range", field=name, low=low, high=high)


def _store(conn: Connection, kind: Kind, code: str, values: dict[str, Any], create: bool) -> int:
    """Insert (create) or update the record; its id."""
    _check_code(code)
    _check_name(str(values.get("name", "")))
    table = kind.table
    exists = conn.execute(select(table.c.id).where(table.c.code == code)).scalar()
    if create:
        if exists is not None:
            raise QueueRefusal("exists", kind.what, code=code)
        new = conn.execute(insert(table).values(code=code, **values)).inserted_primary_key
        return int(new[0])  # type: ignore[index]
    if exists is None:
        raise not_found(kind.what, code)
    conn.execute(update(table).where(table.c.id == exists).values(**values))
    return int(exists)


def _queue_ids(conn: Connection, codes: tuple[str, ...]) -> list[int]:
    return [int(row_of(conn, QUEUE, code).id) for code in codes]


def _linked_queues(conn: Connection, link: Table, owner: Column[Any], owner_id: int) -> list[str]:
    order = link.c.position if "position" in link.c else queues.c.position
    return list(
        conn.execute(
            select(queues.c.code)
            .join(link, link.c.queue_id == queues.c.id)
            .where(owner == owner_id)
            .order_by(order, queues.c.code)
        ).scalars()
    )


def _link(conn: Connection, link: Table, owner: str, owner_id: int, queue_ids: list[int]) -> None:
    conn.execute(delete(link).where(link.c[owner] == owner_id))
    positioned = "position" in link.c
    for position, queue_id in enumerate(queue_ids):
        values = {owner: owner_id, "queue_id": queue_id}
        conn.execute(
            insert(link).values(**values, **({"position": position} if positioned else {}))
        )


# -- rooms -------------------------------------------------------------------------------------


def _room(conn: Connection, row: Any) -> Room:
    return Room(
        code=row.code,
        name=row.name,
        department=row.department,
        modality=row.modality,
        queues=tuple(_linked_queues(conn, room_queues, room_queues.c.room_id, row.id)),
        min_call_interval_seconds=row.min_call_interval_seconds,
        position=row.position,
        state=row.state,
        current_ticket_id=row.current_ticket_id,
        last_call_at=row.last_call_at,
    )


def list_rooms(conn: Connection) -> list[Room]:
    return [_room(conn, r) for r in rows_of(conn, ROOM)]


def room_row(conn: Connection, code: str, *, lock: bool = False) -> Any:
    return row_of(conn, ROOM, code, lock=lock)


def get_room(conn: Connection, code: str) -> Room:
    return _room(conn, room_row(conn, code))


def save_room(conn: Connection, room: Room, *, create: bool) -> Room:
    _check_range("min_call_interval_seconds", room.min_call_interval_seconds, 0, 600)
    queue_ids = _queue_ids(conn, room.queues)
    values: dict[str, Any] = {
        "name": room.name,
        "department": room.department,
        "modality": room.modality,
        "min_call_interval_seconds": room.min_call_interval_seconds,
        "position": room.position,
    }
    if create:
        values["state"] = RoomState.IDLE
    room_id = _store(conn, ROOM, room.code, values, create)
    _link(conn, room_queues, "room_id", room_id, queue_ids)
    return get_room(conn, room.code)


def delete_room(conn: Connection, code: str) -> None:
    row = room_row(conn, code)
    if row.current_ticket_id is not None:
        raise QueueRefusal("wrong_status", "room_busy", code=code)
    conn.execute(delete(rooms).where(rooms.c.id == row.id))


# -- queues ------------------------------------------------------------------------------------


def _queue(conn: Connection, row: Any) -> Queue:
    room_codes = conn.execute(
        select(rooms.c.code)
        .join(room_queues, room_queues.c.room_id == rooms.c.id)
        .where(room_queues.c.queue_id == row.id)
        .order_by(rooms.c.position, rooms.c.code)
    ).scalars()
    values = {f.name: getattr(row, f.name) for f in fields(Queue) if f.name not in _QUEUE_LINKS}
    return Queue(
        **values,
        priority_groups=tuple(g for g in row.priority_groups.split(",") if g),
        rooms=tuple(room_codes),
    )


_QUEUE_LINKS = ("priority_groups", "rooms")
_QUEUE_NUMBERS = {
    "late_grace_minutes": (0, 1440),
    "late_insert_every": (0, 100),
    "missed_suspend_minutes": (0, 1440),
    "missed_insert_every": (0, 100),
    "missed_max": (1, 100),
    "voice_repeat": (0, 10),
}


def list_queues(conn: Connection) -> list[Queue]:
    return [_queue(conn, r) for r in rows_of(conn, QUEUE)]


def queue_row(conn: Connection, code: str, *, lock: bool = False) -> Any:
    return row_of(conn, QUEUE, code, lock=lock)


def get_queue(conn: Connection, code: str) -> Queue:
    return _queue(conn, queue_row(conn, code))


def _check_queue(queue: Queue) -> None:
    if not _PREFIX.match(queue.prefix):
        raise invalid("prefix")
    if queue.order_by not in ("arrival", "appointment"):
        raise invalid("order_by")
    if queue.late_rule not in ("back", "insert") or queue.missed_rule not in ("back", "insert"):
        raise invalid("rules")
    unknown = [g for g in queue.priority_groups if g not in PRIORITY_GROUPS]
    if unknown:
        raise invalid("groups", groups=", ".join(unknown), known=", ".join(PRIORITY_GROUPS))
    for name, (low, high) in _QUEUE_NUMBERS.items():
        _check_range(name, getattr(queue, name), low, high)
    if not queue.voice_template.strip() or len(queue.voice_template) > 255:
        raise invalid("template_length")
    voice.check_template(queue.voice_template)


def save_queue(conn: Connection, queue: Queue, *, create: bool) -> Queue:
    _check_code(queue.code)
    _check_queue(queue)
    values = {
        f.name: getattr(queue, f.name)
        for f in fields(Queue)
        if f.name not in ("code", *_QUEUE_LINKS)
    }
    values["priority_groups"] = ",".join(queue.priority_groups)
    _store(conn, QUEUE, queue.code, values, create)
    return get_queue(conn, queue.code)


def delete_queue(conn: Connection, code: str) -> None:
    row = queue_row(conn, code)
    open_tickets = conn.execute(
        select(func.count()).where(tickets.c.queue_id == row.id, tickets.c.is_open)
    ).scalar_one()
    if open_tickets:
        raise QueueRefusal("wrong_status", "queue_open", code=code, count=open_tickets)
    conn.execute(delete(tickets).where(tickets.c.queue_id == row.id))
    conn.execute(delete(queues).where(queues.c.id == row.id))


# -- screens -----------------------------------------------------------------------------------


def _screen(conn: Connection, row: Any) -> Screen:
    return Screen(
        code=row.code,
        name=row.name,
        orientation=row.orientation,
        rows=row.rows,
        page_seconds=row.page_seconds,
        mask_names=bool(row.mask_names),
        queues=tuple(_linked_queues(conn, screen_queues, screen_queues.c.screen_id, row.id)),
    )


def list_screens(conn: Connection) -> list[Screen]:
    return [_screen(conn, r) for r in rows_of(conn, SCREEN)]


def screen_row(conn: Connection, code: str) -> Any:
    return row_of(conn, SCREEN, code)


def get_screen(conn: Connection, code: str) -> Screen:
    return _screen(conn, screen_row(conn, code))


def save_screen(conn: Connection, screen: Screen, *, create: bool) -> Screen:
    if screen.orientation not in ("landscape", "portrait"):
        raise invalid("orientation")
    _check_range("rows", screen.rows, 1, 50)
    _check_range("page_seconds", screen.page_seconds, 1, 120)
    queue_ids = _queue_ids(conn, screen.queues)
    values = {
        "name": screen.name,
        "orientation": screen.orientation,
        "rows": screen.rows,
        "page_seconds": screen.page_seconds,
        "mask_names": screen.mask_names,
    }
    screen_id = _store(conn, SCREEN, screen.code, values, create)
    _link(conn, screen_queues, "screen_id", screen_id, queue_ids)
    return get_screen(conn, screen.code)


def delete_screen(conn: Connection, code: str) -> None:
    conn.execute(delete(screens).where(screens.c.id == screen_row(conn, code).id))


# -- display settings --------------------------------------------------------------------------

# Not stored: the time zone is the core's one setting (core_server.clock).
_NOT_STORED = ("has_logo", "timezone")


def get_settings(conn: Connection, hospital_name: str = "") -> DisplaySettings:
    """The settings; an empty hospital name is ``hospital_name`` (the core's)."""
    row = conn.execute(select(settings).where(settings.c.id == 1)).first()
    zone = clock.zone().key
    if row is None:
        return DisplaySettings(hospital_name=hospital_name, timezone=zone)
    values = {
        f.name: getattr(row, f.name) for f in fields(DisplaySettings) if f.name not in _NOT_STORED
    }
    values["hospital_name"] = values["hospital_name"] or hospital_name
    return DisplaySettings(**values, timezone=zone, has_logo=row.logo is not None)


def save_settings(conn: Connection, new: DisplaySettings) -> None:
    for name in ("font_title", "font_header", "font_list", "font_call", "font_clock"):
        _check_range(name, getattr(new, name), 8, 400)
    if new.voice_name not in ("full", "surname", "none"):
        raise invalid("voice_name")
    _check_range("voice_rate", new.voice_rate, 50, 400)
    if len(new.hospital_name) > 128:
        raise invalid("hospital_name")
    values = {k: v for k, v in asdict(new).items() if k not in _NOT_STORED}
    _ensure_settings_row(conn)
    conn.execute(
        update(settings).where(settings.c.id == 1).values(**values, updated_at=clock.now())
    )


def _ensure_settings_row(conn: Connection) -> None:
    if conn.execute(select(settings.c.id).where(settings.c.id == 1)).first() is None:
        conn.execute(insert(settings).values(id=1))


LOGO_TYPES = ("image/png", "image/jpeg", "image/svg+xml", "image/webp")
LOGO_MAX_BYTES = 2 * 1024 * 1024


def save_logo(conn: Connection, data: bytes, content_type: str) -> None:
    if content_type not in LOGO_TYPES:
        raise invalid("logo_type")
    if not data or len(data) > LOGO_MAX_BYTES:
        raise invalid("logo_size")
    _ensure_settings_row(conn)
    conn.execute(
        update(settings)
        .where(settings.c.id == 1)
        .values(logo=data, logo_type=content_type, updated_at=clock.now())
    )


def get_logo(conn: Connection) -> tuple[bytes, str] | None:
    row = conn.execute(
        select(settings.c.logo, settings.c.logo_type).where(settings.c.id == 1)
    ).first()
    if row is None or row.logo is None:
        return None
    return bytes(row.logo), row.logo_type
