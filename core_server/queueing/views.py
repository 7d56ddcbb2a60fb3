"""What screens, callers and ticket printers show: read-only views of the queue tables.

Names: public screens and tickets get the masked name (王*国) unless the screen's masking is
off; callers and staff pages get the name as a person reads it (王建国, never ``王^建国``).
Times carry the hospital's offset (``clock.iso``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, select

from core_server import clock
from core_server.queueing import config, journal, records
from core_server.queueing.models import DisplaySettings, Ticket, TicketStatus
from core_server.queueing.tables import calls, queues, room_queues, rooms, screen_queues, tickets

LOGO_URL = "/api/queueing/logo"
_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def ticket(conn: Connection, ticket_id: int) -> Ticket:
    return records.to_ticket(conn, records.ticket_row_or_404(conn, ticket_id))


def queue_tickets(conn: Connection, code: str, status: str | None, now: datetime) -> list[Ticket]:
    """The day's tickets of a queue; waiting ones in calling order."""
    queue = config.queue_row(conn, code)
    today = records.day_of(now)
    if status == TicketStatus.WAITING:
        rows = records.ordered(conn, queue, today)
    else:
        query = select(tickets).where(
            tickets.c.queue_id == queue.id, tickets.c.service_day == today
        )
        if status:
            query = query.where(tickets.c.status == status)
        rows = list(conn.execute(query.order_by(tickets.c.sequence)).all())
    return [records.to_ticket(conn, r) for r in rows]


def hospital(settings: DisplaySettings) -> dict[str, Any]:
    """The hospital's name and logo as screens, callers and ticket printers show them."""
    return {"name": settings.hospital_name, "logo_url": LOGO_URL if settings.has_logo else None}


def print_ticket(
    conn: Connection, row: Any, settings: DisplaySettings, *, new: bool
) -> dict[str, Any]:
    """What a ticket printer prints (also for a reprint): the name already masked."""
    queue = conn.execute(select(queues).where(queues.c.id == row.queue_id)).one()
    ahead = [r.id for r in records.ordered(conn, queue, row.service_day)]
    room_names = conn.execute(
        select(rooms.c.name)
        .join(room_queues, room_queues.c.room_id == rooms.c.id)
        .where(room_queues.c.queue_id == queue.id)
        .order_by(rooms.c.position, rooms.c.code)
    ).scalars()
    return {
        "ticket_id": row.id,
        "number": row.number,
        "queue": queue.code,
        "queue_name": queue.name,
        "department": queue.department,
        "rooms": list(room_names),
        "hospital_name": settings.hospital_name,
        "name": records.masked_name(row.patient_name),
        "exam": row.exam_name,
        "accession": row.accession,
        "priority": records.priority(row),
        "status": row.status,
        "waiting_ahead": ahead.index(row.id) if row.id in ahead else 0,
        "issued_at": clock.iso(row.arrived_at),
        "qr_text": row.accession or row.number,
        "new": new,
    }


# -- the waiting-room screen -----------------------------------------------------------------


def screen_state(
    conn: Connection, code: str, now: datetime, settings: DisplaySettings
) -> dict[str, Any]:
    """Everything a waiting-room screen draws, in one answer (``docs/queue-api.md``)."""
    seq = journal.latest(conn)
    screen = config.screen_row(conn, code)
    today = records.day_of(now)
    masked = bool(screen.mask_names)
    queue_rows = _screen_queues(conn, screen.id)
    room_rows = {r.id: r for r in conn.execute(select(rooms)).all()}
    return {
        "seq": seq,
        "generated_at": clock.iso(now),
        # The hospital's zone, so a screen shows hospital time whatever its own clock's zone.
        "timezone": settings.timezone,
        "utc_offset_minutes": _offset_minutes(now),
        "screen": {
            "code": screen.code,
            "name": screen.name,
            "orientation": screen.orientation,
            "page_seconds": screen.page_seconds,
            "rows": screen.rows,
            "mask_names": masked,
        },
        "hospital": hospital(settings),
        "fonts": {
            "title": settings.font_title,
            "header": settings.font_header,
            "list": settings.font_list,
            "call": settings.font_call,
            "clock": settings.font_clock,
        },
        "voice": {"enabled": settings.voice_enabled, "rate": settings.voice_rate},
        "queues": [_queue_board(conn, q, today, room_rows, masked) for q in queue_rows],
        "current_call": _current_call(conn, [q.id for q in queue_rows], today, room_rows, masked),
    }


def _offset_minutes(now: datetime) -> int:
    offset = clock.local(now).utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0


def _public_name(stored: str, masked: bool) -> str:
    return records.masked_name(stored) if masked else records.shown_name(stored)


def _screen_queues(conn: Connection, screen_id: int) -> list[Any]:
    return list(
        conn.execute(
            select(queues)
            .join(screen_queues, screen_queues.c.queue_id == queues.c.id)
            .where(screen_queues.c.screen_id == screen_id)
            .order_by(screen_queues.c.position)
        ).all()
    )


def _queue_board(
    conn: Connection, queue: Any, today: date, room_rows: dict[int, Any], masked: bool
) -> dict[str, Any]:
    """One queue's block on the screen: its rooms, counts, called, waiting and missed."""
    day = conn.execute(
        select(tickets).where(tickets.c.queue_id == queue.id, tickets.c.service_day == today)
    ).all()
    counts = {s.value: 0 for s in TicketStatus}
    for t in day:
        counts[t.status] += 1
    return {
        "code": queue.code,
        "name": queue.name,
        "department": queue.department,
        "rooms": _served_rooms(conn, queue.id, room_rows),
        "counts": {
            k: counts[k] for k in ("waiting", "called", "in_progress", "missed", "finished")
        },
        "called": _called(day, room_rows, masked),
        "waiting": [
            {
                "ticket_id": t.id,
                "number": t.number,
                "name": _public_name(t.patient_name, masked),
                "priority": records.priority(t),
                "returned": bool(t.returned),
                "late": bool(t.late),
            }
            for t in records.ordered(conn, queue, today)
        ],
        "missed": [
            {
                "ticket_id": t.id,
                "number": t.number,
                "name": _public_name(t.patient_name, masked),
                "back_at": clock.iso(t.back_at),
            }
            for t in sorted(
                (t for t in day if t.status == TicketStatus.MISSED),
                key=lambda t: t.back_at or _LATEST,
            )
        ],
    }


def _served_rooms(conn: Connection, queue_id: int, room_rows: dict[int, Any]) -> list[Any]:
    served = conn.execute(
        select(room_queues.c.room_id).where(room_queues.c.queue_id == queue_id)
    ).scalars()
    return [
        {"code": room_rows[i].code, "name": room_rows[i].name, "state": room_rows[i].state}
        for i in sorted(served, key=lambda i: (room_rows[i].position, room_rows[i].code))
    ]


def _called(day: Sequence[Any], room_rows: dict[int, Any], masked: bool) -> list[dict[str, Any]]:
    """Patients called or in their exam, the latest call first."""
    called = sorted(
        (t for t in day if t.status in (TicketStatus.CALLED, TicketStatus.IN_PROGRESS)),
        key=lambda t: t.called_at or _EARLIEST,
        reverse=True,
    )
    return [
        {
            "ticket_id": t.id,
            "number": t.number,
            "name": _public_name(t.patient_name, masked),
            "status": t.status,
            "room": room_rows[t.room_id].code if t.room_id in room_rows else None,
            "room_name": room_rows[t.room_id].name if t.room_id in room_rows else None,
            "called_at": clock.iso(t.called_at),
        }
        for t in called
    ]


def _current_call(
    conn: Connection, queue_ids: list[int], today: date, room_rows: dict[int, Any], masked: bool
) -> dict[str, Any] | None:
    """The screen's latest call of the day, with the words to speak (see voice.py)."""
    if not queue_ids:
        return None
    last = conn.execute(
        select(
            calls,
            tickets.c.number,
            tickets.c.patient_name,
            queues.c.code.label("q"),
            queues.c.voice_repeat,
        )
        .join(tickets, tickets.c.id == calls.c.ticket_id)
        .join(queues, queues.c.id == calls.c.queue_id)
        .where(calls.c.queue_id.in_(queue_ids), tickets.c.service_day == today)
        .order_by(calls.c.called_at.desc(), calls.c.id.desc())
        .limit(1)
    ).first()
    if last is None:
        return None
    room = room_rows.get(last.room_id)
    return {
        "ticket_id": last.ticket_id,
        "number": last.number,
        "name": _public_name(last.patient_name, masked),
        "queue": last.q,
        "room": room.code if room else None,
        "room_name": room.name if room else None,
        "called_at": clock.iso(last.called_at),
        "voice_text": last.voice_text,
        "repeat": last.voice_repeat,
        "call_id": last.id,
    }


# -- a room's caller -------------------------------------------------------------------------


def room_state(conn: Connection, code: str, now: datetime) -> dict[str, Any]:
    seq = journal.latest(conn)
    room = config.get_room(conn, code)
    row = config.room_row(conn, code)
    today = records.day_of(now)
    current = records.ticket_row(conn, row.current_ticket_id) if row.current_ticket_id else None
    queue_rows = conn.execute(
        select(queues)
        .join(room_queues, room_queues.c.queue_id == queues.c.id)
        .where(room_queues.c.room_id == row.id)
        .order_by(queues.c.position, queues.c.id)
    ).all()
    lines = [records.ordered(conn, q, today) for q in queue_rows]
    rules = {q.id: records.rules(q) for q in queue_rows}
    waiting = [r for line in lines for r in line]
    if len(lines) > 1:  # merged the way call-next picks: heads compared in turn
        waiting = records.merge(lines, rules)
    missed = conn.execute(
        select(tickets)
        .where(
            tickets.c.queue_id.in_([q.id for q in queue_rows]),
            tickets.c.service_day == today,
            tickets.c.status == TicketStatus.MISSED,
        )
        .order_by(tickets.c.back_at)
    ).all()
    return {
        "seq": seq,
        "room": records.room_dict(room),
        "current": records.to_ticket(conn, current).as_dict() if current is not None else None,
        "waiting_count": len(waiting),
        "waiting": [records.to_ticket(conn, r).as_dict() for r in waiting],
        "missed": [records.to_ticket(conn, r).as_dict() for r in missed],
    }
