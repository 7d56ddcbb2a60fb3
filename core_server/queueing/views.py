"""What screens, callers and ticket printers show: read-only views of the queue tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from core_server.queueing import config, journal, records
from core_server.queueing.masking import mask_name
from core_server.queueing.models import Ticket, TicketStatus
from core_server.queueing.tables import calls, queues, room_queues, rooms, screen_queues, tickets


def ticket(conn: Connection, ticket_id: int) -> Ticket:
    return records.to_ticket(conn, records.ticket_row_or_404(conn, ticket_id))


def queue_tickets(conn: Connection, code: str, status: str | None, now: datetime) -> list[Ticket]:
    """The day's tickets of a queue; waiting ones in calling order."""
    queue = config.queue_row(conn, code)
    today = records.today(conn, now)
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


def print_ticket(conn: Connection, row: Any, *, new: bool) -> dict[str, Any]:
    """What a ticket printer prints (also for a reprint)."""
    queue = conn.execute(select(queues).where(queues.c.id == row.queue_id)).one()
    settings = config.get_settings(conn)
    tz = ZoneInfo(settings.timezone)
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
        "name": mask_name(row.patient_name),
        "exam": row.exam_name,
        "accession": row.accession,
        "priority": records.priority(row),
        "status": row.status,
        "waiting_ahead": ahead.index(row.id) if row.id in ahead else 0,
        "issued_at": records.aware(row.arrived_at).astimezone(tz).isoformat(),  # type: ignore[union-attr]
        "qr_text": row.accession or row.number,
        "new": new,
    }


def screen_state(conn: Connection, code: str, now: datetime) -> dict[str, Any]:
    seq = journal.latest(conn)
    screen = config.screen_row(conn, code)
    settings = config.get_settings(conn)
    tz = ZoneInfo(settings.timezone)
    today = records.today(conn, now)
    masked = bool(screen.mask_names)

    def name(value: str) -> str:
        return mask_name(value) if masked else value

    def local(value: datetime | None) -> str | None:
        value = records.aware(value)
        return value.astimezone(tz).isoformat() if value else None

    queue_rows = conn.execute(
        select(queues)
        .join(screen_queues, screen_queues.c.queue_id == queues.c.id)
        .where(screen_queues.c.screen_id == screen.id)
        .order_by(screen_queues.c.position)
    ).all()
    room_rows = {r.id: r for r in conn.execute(select(rooms)).all()}
    shown = []
    for queue in queue_rows:
        served = conn.execute(
            select(room_queues.c.room_id).where(room_queues.c.queue_id == queue.id)
        ).scalars()
        day = conn.execute(
            select(tickets).where(tickets.c.queue_id == queue.id, tickets.c.service_day == today)
        ).all()
        counts = {s.value: 0 for s in TicketStatus}
        for t in day:
            counts[t.status] += 1
        called = sorted(
            (t for t in day if t.status in (TicketStatus.CALLED, TicketStatus.IN_PROGRESS)),
            key=lambda t: records.aware(t.called_at) or datetime.min.replace(tzinfo=UTC),
            reverse=True,
        )
        missed = sorted(
            (t for t in day if t.status == TicketStatus.MISSED),
            key=lambda t: records.aware(t.back_at) or datetime.max.replace(tzinfo=UTC),
        )
        shown.append(
            {
                "code": queue.code,
                "name": queue.name,
                "department": queue.department,
                "rooms": [
                    {
                        "code": room_rows[i].code,
                        "name": room_rows[i].name,
                        "state": room_rows[i].state,
                    }
                    for i in sorted(
                        served, key=lambda i: (room_rows[i].position, room_rows[i].code)
                    )
                ],
                "counts": {
                    k: counts[k] for k in ("waiting", "called", "in_progress", "missed", "finished")
                },
                "called": [
                    {
                        "ticket_id": t.id,
                        "number": t.number,
                        "name": name(t.patient_name),
                        "status": t.status,
                        "room": room_rows[t.room_id].code if t.room_id in room_rows else None,
                        "room_name": room_rows[t.room_id].name if t.room_id in room_rows else None,
                        "called_at": local(t.called_at),
                    }
                    for t in called
                ],
                "waiting": [
                    {
                        "ticket_id": t.id,
                        "number": t.number,
                        "name": name(t.patient_name),
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
                        "name": name(t.patient_name),
                        "back_at": local(t.back_at),
                    }
                    for t in missed
                ],
            }
        )
    current_call = None
    queue_ids = [q.id for q in queue_rows]
    if queue_ids:
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
        if last is not None:
            room = room_rows.get(last.room_id)
            current_call = {
                "ticket_id": last.ticket_id,
                "number": last.number,
                "name": name(last.patient_name),
                "queue": last.q,
                "room": room.code if room else None,
                "room_name": room.name if room else None,
                "called_at": local(last.called_at),
                "voice_text": last.voice_text,
                "repeat": last.voice_repeat,
                "call_id": last.id,
            }
    return {
        "seq": seq,
        "generated_at": now.astimezone(tz).isoformat(),
        "screen": {
            "code": screen.code,
            "name": screen.name,
            "orientation": screen.orientation,
            "page_seconds": screen.page_seconds,
            "rows": screen.rows,
            "mask_names": masked,
        },
        "hospital": {
            "name": settings.hospital_name,
            "logo_url": "/api/queueing/logo" if settings.has_logo else None,
        },
        "fonts": {
            "title": settings.font_title,
            "header": settings.font_header,
            "list": settings.font_list,
            "call": settings.font_call,
            "clock": settings.font_clock,
        },
        "voice": {"enabled": settings.voice_enabled, "rate": settings.voice_rate},
        "queues": shown,
        "current_call": current_call,
    }


def room_state(conn: Connection, code: str, now: datetime) -> dict[str, Any]:
    seq = journal.latest(conn)
    room = config.get_room(conn, code)
    row = config.room_row(conn, code)
    today = records.today(conn, now)
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
