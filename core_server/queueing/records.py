"""Rows of the queue tables as the service and its views use them: tickets as dataclasses, the
ordering inputs, the hospital's day."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from core_server import clock, names
from core_server.queueing import ordering
from core_server.queueing.models import Room, Ticket, TicketStatus
from core_server.queueing.refusals import not_found
from core_server.queueing.tables import queues, rooms, tickets


def day_of(now: datetime) -> date:
    """The hospital's day (ticket numbers restart with it), in the core's time zone."""
    return clock.local(now).date()


def shown_name(stored: str) -> str:
    """A patient's name as a person reads it (HL7 ``王^建国`` -> 王建国)."""
    return names.display(stored)


def masked_name(stored: str) -> str:
    """The name for public screens and tickets: 王*国."""
    return names.PersonName.parse(stored).masked()


def ticket_row_or_404(conn: Connection, ticket_id: int) -> Any:
    row = ticket_row(conn, ticket_id)
    if row is None:
        raise not_found("ticket", str(ticket_id))
    return row


def ticket_row(conn: Connection, ticket_id: int) -> Any:
    return conn.execute(select(tickets).where(tickets.c.id == ticket_id)).first()


def priority(row: Any) -> str | None:
    return "emergency" if row.emergency else row.priority_group


def waiting(row: Any) -> ordering.Waiting:
    return ordering.Waiting(
        id=row.id,
        arrived_at=row.arrived_at,
        emergency=bool(row.emergency),
        priority_group=row.priority_group,
        appointment_at=row.appointment_at,
        late=bool(row.late),
        returned=bool(row.returned),
        returned_at=row.returned_at,
    )


def merge(lines: list[list[Any]], rules: dict[int, ordering.Rules]) -> list[Any]:
    lines = [list(line) for line in lines]
    merged = []
    while any(lines):
        heads = [(i, line[0]) for i, line in enumerate(lines) if line]
        pick = ordering.first_of([(waiting(row), rules[row.queue_id]) for _, row in heads])
        assert pick is not None
        merged.append(lines[heads[pick][0]].pop(0))
    return merged


def room_dict(room: Room) -> dict[str, Any]:
    last = room.last_call_at
    ready = last + timedelta(seconds=room.min_call_interval_seconds) if last else None
    return {
        "code": room.code,
        "name": room.name,
        "state": room.state,
        "queues": list(room.queues),
        "min_call_interval_seconds": room.min_call_interval_seconds,
        "next_call_allowed_at": clock.iso(ready),
        "current_ticket_id": room.current_ticket_id,
    }


def rules(queue: Any) -> ordering.Rules:
    return ordering.Rules(
        order_by=queue.order_by,
        priority_groups=frozenset(g for g in queue.priority_groups.split(",") if g),
        late_rule=queue.late_rule,
        late_insert_every=queue.late_insert_every,
        missed_rule=queue.missed_rule,
        missed_insert_every=queue.missed_insert_every,
        regular_since_late=queue.regular_since_late,
        regular_since_returned=queue.regular_since_returned,
    )


def ordered(conn: Connection, queue: Any, today: date) -> list[Any]:
    """The queue's waiting ticket rows of the day in calling order."""
    rows = conn.execute(
        select(tickets).where(
            tickets.c.queue_id == queue.id,
            tickets.c.service_day == today,
            tickets.c.status == TicketStatus.WAITING,
        )
    ).all()
    by_id = {r.id: r for r in rows}
    order = ordering.order((waiting(r) for r in rows), rules(queue))
    return [by_id[w.id] for w in order]


def to_ticket(conn: Connection, row: Any) -> Ticket:
    queue_code = conn.execute(select(queues.c.code).where(queues.c.id == row.queue_id)).scalar()
    room_code = (
        conn.execute(select(rooms.c.code).where(rooms.c.id == row.room_id)).scalar()
        if row.room_id
        else None
    )
    return Ticket(
        id=row.id,
        number=row.number,
        queue=queue_code or "",
        status=row.status,
        name=shown_name(row.patient_name),
        masked_name=masked_name(row.patient_name),
        patient_id=row.patient_id,
        sex=row.sex,
        age=row.age,
        accession=row.accession,
        exam_id=row.exam_id,
        exam=row.exam_name,
        priority=priority(row),
        returned=bool(row.returned),
        late=bool(row.late),
        arrived_at=row.arrived_at,
        appointment_at=row.appointment_at,
        called_at=row.called_at,
        call_count=row.call_count,
        room=room_code,
        missed_count=row.missed_count,
        back_at=row.back_at,
        service_day=row.service_day,
    )
