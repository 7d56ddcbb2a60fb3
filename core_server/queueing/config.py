"""What the administrator sets up: rooms, queues, screens, display settings. Functions on an
open connection; :class:`~core_server.queueing.service.QueueService` wraps them in
transactions and journals the change."""

from __future__ import annotations

import re
from dataclasses import asdict, fields
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, delete, func, insert, select, update

from core_server.queueing import voice
from core_server.queueing.models import (
    PRIORITY_GROUPS,
    DisplaySettings,
    Invalid,
    Queue,
    QueueError,
    Room,
    RoomState,
    Screen,
    not_found,
)
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


def _invalid(zh: str, en: str) -> Invalid:
    return Invalid("invalid", zh, en)


def _check_code(code: str) -> None:
    if not _CODE.match(code):
        raise _invalid(
            f"编码 {code!r} 无效：1-32 个字母、数字、-、_ 或 .",
            f"invalid code {code!r}: 1-32 letters, digits, -, _ or .",
        )


def _check_name(name: str) -> None:
    if not name.strip() or len(name) > 64:
        raise _invalid("名称须为 1-64 个字符", "a name has 1 to 64 characters")


def _queue_ids(conn: Connection, codes: tuple[str, ...]) -> list[int]:
    ids = []
    for code in codes:
        found = conn.execute(select(queues.c.id).where(queues.c.code == code)).scalar()
        if found is None:
            raise not_found("queue", code)
        ids.append(int(found))
    return ids


# -- rooms -------------------------------------------------------------------------------------


def _room(conn: Connection, row: Any) -> Room:
    codes = conn.execute(
        select(queues.c.code)
        .join(room_queues, room_queues.c.queue_id == queues.c.id)
        .where(room_queues.c.room_id == row.id)
        .order_by(queues.c.position, queues.c.code)
    ).scalars()
    return Room(
        code=row.code,
        name=row.name,
        department=row.department,
        modality=row.modality,
        queues=tuple(codes),
        min_call_interval_seconds=row.min_call_interval_seconds,
        position=row.position,
        state=row.state,
        current_ticket_id=row.current_ticket_id,
        last_call_at=row.last_call_at,
    )


def list_rooms(conn: Connection) -> list[Room]:
    rows = conn.execute(select(rooms).order_by(rooms.c.position, rooms.c.code)).all()
    return [_room(conn, r) for r in rows]


def room_row(conn: Connection, code: str, *, lock: bool = False) -> Any:
    query = select(rooms).where(rooms.c.code == code)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise not_found("room", code)
    return row


def get_room(conn: Connection, code: str) -> Room:
    return _room(conn, room_row(conn, code))


def save_room(conn: Connection, room: Room, *, create: bool) -> Room:
    _check_code(room.code)
    _check_name(room.name)
    if not 0 <= room.min_call_interval_seconds <= 600:
        raise _invalid("两次呼叫最小间隔须为 0-600 秒", "min call interval is 0 to 600 seconds")
    queue_ids = _queue_ids(conn, room.queues)
    values = {
        "name": room.name,
        "department": room.department,
        "modality": room.modality,
        "min_call_interval_seconds": room.min_call_interval_seconds,
        "position": room.position,
    }
    exists = conn.execute(select(rooms.c.id).where(rooms.c.code == room.code)).scalar()
    if create:
        if exists is not None:
            raise QueueError("exists", f"诊室 {room.code} 已存在", f"room {room.code!r} exists")
        room_id = conn.execute(
            insert(rooms).values(code=room.code, state=RoomState.IDLE, **values)
        ).inserted_primary_key[0]  # type: ignore[index]
    else:
        if exists is None:
            raise not_found("room", room.code)
        room_id = exists
        conn.execute(update(rooms).where(rooms.c.id == room_id).values(**values))
        conn.execute(delete(room_queues).where(room_queues.c.room_id == room_id))
    for queue_id in queue_ids:
        conn.execute(insert(room_queues).values(room_id=room_id, queue_id=queue_id))
    return get_room(conn, room.code)


def delete_room(conn: Connection, code: str) -> None:
    row = room_row(conn, code)
    if row.current_ticket_id is not None:
        raise QueueError(
            "wrong_status", f"诊室 {code} 有正在检查的患者", f"room {code!r} has a current patient"
        )
    conn.execute(delete(rooms).where(rooms.c.id == row.id))


# -- queues ------------------------------------------------------------------------------------


def _queue(conn: Connection, row: Any) -> Queue:
    room_codes = conn.execute(
        select(rooms.c.code)
        .join(room_queues, room_queues.c.room_id == rooms.c.id)
        .where(room_queues.c.queue_id == row.id)
        .order_by(rooms.c.position, rooms.c.code)
    ).scalars()
    return Queue(
        code=row.code,
        name=row.name,
        department=row.department,
        modality=row.modality,
        prefix=row.prefix,
        order_by=row.order_by,
        priority_groups=tuple(g for g in row.priority_groups.split(",") if g),
        late_grace_minutes=row.late_grace_minutes,
        late_rule=row.late_rule,
        late_insert_every=row.late_insert_every,
        missed_suspend_minutes=row.missed_suspend_minutes,
        missed_rule=row.missed_rule,
        missed_insert_every=row.missed_insert_every,
        missed_max=row.missed_max,
        voice_template=row.voice_template,
        voice_repeat=row.voice_repeat,
        position=row.position,
        rooms=tuple(room_codes),
    )


def list_queues(conn: Connection) -> list[Queue]:
    rows = conn.execute(select(queues).order_by(queues.c.position, queues.c.code)).all()
    return [_queue(conn, r) for r in rows]


def queue_row(conn: Connection, code: str, *, lock: bool = False) -> Any:
    query = select(queues).where(queues.c.code == code)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise not_found("queue", code)
    return row


def get_queue(conn: Connection, code: str) -> Queue:
    return _queue(conn, queue_row(conn, code))


def _check_queue(queue: Queue) -> None:
    _check_code(queue.code)
    _check_name(queue.name)
    if not _PREFIX.match(queue.prefix):
        raise _invalid(
            "号码前缀须为 0-8 个字母或数字", "a number prefix has 0 to 8 letters or digits"
        )
    if queue.order_by not in ("arrival", "appointment"):
        raise _invalid("排序方式须为 arrival 或 appointment", "order_by is arrival or appointment")
    if queue.late_rule not in ("back", "insert") or queue.missed_rule not in ("back", "insert"):
        raise _invalid("迟到/过号规则须为 back 或 insert", "late/missed rules are back or insert")
    unknown = [g for g in queue.priority_groups if g not in PRIORITY_GROUPS]
    if unknown:
        raise _invalid(
            f"未知的优先人群 {unknown}，可用: {', '.join(PRIORITY_GROUPS)}",
            f"unknown priority groups {unknown}; known: {', '.join(PRIORITY_GROUPS)}",
        )
    numbers = {
        "late_grace_minutes": (0, 1440),
        "late_insert_every": (0, 100),
        "missed_suspend_minutes": (0, 1440),
        "missed_insert_every": (0, 100),
        "missed_max": (1, 100),
        "voice_repeat": (0, 10),
    }
    for name, (low, high) in numbers.items():
        value = getattr(queue, name)
        if not low <= value <= high:
            raise _invalid(f"{name} 须在 {low}-{high} 之间", f"{name} is {low} to {high}")
    if not queue.voice_template.strip() or len(queue.voice_template) > 255:
        raise _invalid("语音模板须为 1-255 个字符", "a voice template has 1 to 255 characters")
    voice.check_template(queue.voice_template)


def save_queue(conn: Connection, queue: Queue, *, create: bool) -> Queue:
    _check_queue(queue)
    values = {
        f.name: getattr(queue, f.name)
        for f in fields(Queue)
        if f.name not in ("code", "rooms", "priority_groups")
    }
    values["priority_groups"] = ",".join(queue.priority_groups)
    exists = conn.execute(select(queues.c.id).where(queues.c.code == queue.code)).scalar()
    if create:
        if exists is not None:
            raise QueueError("exists", f"队列 {queue.code} 已存在", f"queue {queue.code!r} exists")
        conn.execute(insert(queues).values(code=queue.code, **values))
    else:
        if exists is None:
            raise not_found("queue", queue.code)
        conn.execute(update(queues).where(queues.c.id == exists).values(**values))
    return get_queue(conn, queue.code)


def delete_queue(conn: Connection, code: str) -> None:
    row = queue_row(conn, code)
    open_tickets = conn.execute(
        select(func.count()).where(tickets.c.queue_id == row.id, tickets.c.is_open)
    ).scalar_one()
    if open_tickets:
        raise QueueError(
            "wrong_status",
            f"队列 {code} 还有 {open_tickets} 张未完成的号票",
            f"queue {code!r} has {open_tickets} open tickets",
        )
    conn.execute(delete(tickets).where(tickets.c.queue_id == row.id))
    conn.execute(delete(queues).where(queues.c.id == row.id))


# -- screens -----------------------------------------------------------------------------------


def _screen(conn: Connection, row: Any) -> Screen:
    codes = conn.execute(
        select(queues.c.code)
        .join(screen_queues, screen_queues.c.queue_id == queues.c.id)
        .where(screen_queues.c.screen_id == row.id)
        .order_by(screen_queues.c.position)
    ).scalars()
    return Screen(
        code=row.code,
        name=row.name,
        orientation=row.orientation,
        rows=row.rows,
        page_seconds=row.page_seconds,
        mask_names=bool(row.mask_names),
        queues=tuple(codes),
    )


def list_screens(conn: Connection) -> list[Screen]:
    return [_screen(conn, r) for r in conn.execute(select(screens).order_by(screens.c.code)).all()]


def screen_row(conn: Connection, code: str) -> Any:
    row = conn.execute(select(screens).where(screens.c.code == code)).first()
    if row is None:
        raise not_found("screen", code)
    return row


def get_screen(conn: Connection, code: str) -> Screen:
    return _screen(conn, screen_row(conn, code))


def save_screen(conn: Connection, screen: Screen, *, create: bool) -> Screen:
    _check_code(screen.code)
    _check_name(screen.name)
    if screen.orientation not in ("landscape", "portrait"):
        raise _invalid("方向须为 landscape 或 portrait", "orientation is landscape or portrait")
    if not 1 <= screen.rows <= 50 or not 1 <= screen.page_seconds <= 120:
        raise _invalid("行数 1-50，翻页 1-120 秒", "rows 1 to 50, page_seconds 1 to 120")
    queue_ids = _queue_ids(conn, screen.queues)
    values = {
        "name": screen.name,
        "orientation": screen.orientation,
        "rows": screen.rows,
        "page_seconds": screen.page_seconds,
        "mask_names": screen.mask_names,
    }
    exists = conn.execute(select(screens.c.id).where(screens.c.code == screen.code)).scalar()
    if create:
        if exists is not None:
            raise QueueError(
                "exists", f"屏幕 {screen.code} 已存在", f"screen {screen.code!r} exists"
            )
        screen_id = conn.execute(
            insert(screens).values(code=screen.code, **values)
        ).inserted_primary_key[0]  # type: ignore[index]
    else:
        if exists is None:
            raise not_found("screen", screen.code)
        screen_id = exists
        conn.execute(update(screens).where(screens.c.id == screen_id).values(**values))
        conn.execute(delete(screen_queues).where(screen_queues.c.screen_id == screen_id))
    for position, queue_id in enumerate(queue_ids):
        conn.execute(
            insert(screen_queues).values(screen_id=screen_id, queue_id=queue_id, position=position)
        )
    return get_screen(conn, screen.code)


def delete_screen(conn: Connection, code: str) -> None:
    conn.execute(delete(screens).where(screens.c.id == screen_row(conn, code).id))


# -- display settings --------------------------------------------------------------------------


def get_settings(conn: Connection) -> DisplaySettings:
    row = conn.execute(select(settings).where(settings.c.id == 1)).first()
    if row is None:
        return DisplaySettings()
    values = {f.name: getattr(row, f.name) for f in fields(DisplaySettings) if f.name != "has_logo"}
    return DisplaySettings(**values, has_logo=row.logo is not None)


def save_settings(conn: Connection, new: DisplaySettings) -> DisplaySettings:
    try:
        ZoneInfo(new.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise _invalid(
            f"未知时区 {new.timezone!r}", f"unknown time zone {new.timezone!r}"
        ) from None
    for name in ("font_title", "font_header", "font_list", "font_call", "font_clock"):
        if not 8 <= getattr(new, name) <= 400:
            raise _invalid(f"{name} 须在 8-400 之间", f"{name} is 8 to 400")
    if new.voice_name not in ("full", "surname", "none"):
        raise _invalid("语音姓名须为 full、surname 或 none", "voice_name is full, surname or none")
    if not 50 <= new.voice_rate <= 400:
        raise _invalid("语速须在 50-400 之间", "voice_rate is 50 to 400")
    if len(new.hospital_name) > 128:
        raise _invalid("医院名称最多 128 个字符", "a hospital name has at most 128 characters")
    values = {k: v for k, v in asdict(new).items() if k != "has_logo"}
    _ensure_settings_row(conn)
    conn.execute(
        update(settings).where(settings.c.id == 1).values(**values, updated_at=datetime.now(UTC))
    )
    return get_settings(conn)


def _ensure_settings_row(conn: Connection) -> None:
    if conn.execute(select(settings.c.id).where(settings.c.id == 1)).first() is None:
        conn.execute(insert(settings).values(id=1))


LOGO_TYPES = ("image/png", "image/jpeg", "image/svg+xml", "image/webp")
LOGO_MAX_BYTES = 2 * 1024 * 1024


def save_logo(conn: Connection, data: bytes, content_type: str) -> None:
    if content_type not in LOGO_TYPES:
        raise _invalid(
            "标志须为 PNG、JPEG、SVG 或 WebP 图片", "a logo is a PNG, JPEG, SVG or WebP image"
        )
    if not data or len(data) > LOGO_MAX_BYTES:
        raise _invalid("标志图片须小于 2 MB", "a logo is at most 2 MB")
    _ensure_settings_row(conn)
    conn.execute(
        update(settings)
        .where(settings.c.id == 1)
        .values(logo=data, logo_type=content_type, updated_at=datetime.now(UTC))
    )


def get_logo(conn: Connection) -> tuple[bytes, str] | None:
    row = conn.execute(
        select(settings.c.logo, settings.c.logo_type).where(settings.c.id == 1)
    ).first()
    if row is None or row.logo is None:
        return None
    return bytes(row.logo), row.logo_type
