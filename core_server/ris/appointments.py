"""Appointments: a room's slots of a day (cut from its opening hours, in the hospital's time)
and booking an exam into one."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from core_server import clock, db
from core_server.ris import catalogue, exams, records, status
from core_server.ris.base import EXAM_CHANGED, RisCore
from core_server.ris.models import Appointment, Conflict, ExamStatus, RisError, Slot
from core_server.ris.tables import ris_appointments, ris_exams, ris_rooms


def slots(conn: Connection, room_code: str, day: date) -> list[Slot]:
    room = catalogue.room(conn, room_code)
    opens, closes = catalogue.minutes_of_day(room.opens), catalogue.minutes_of_day(room.closes)
    start, end = clock.local_day_bounds(day)
    booked: dict[datetime, int] = {
        at.astimezone(UTC): int(count)
        for at, count in conn.execute(
            select(ris_appointments.c.start, func.count())
            .join(ris_exams, ris_exams.c.id == ris_appointments.c.exam_fk)
            .where(
                ris_appointments.c.room == room_code,
                ris_appointments.c.start >= start,
                ris_appointments.c.start < end,
                ris_exams.c.status != ExamStatus.CANCELLED,
            )
            .group_by(ris_appointments.c.start)
        ).all()
    }
    result = []
    for minute in range(opens, closes - room.slot_minutes + 1, room.slot_minutes):
        # Wall-clock arithmetic in the hospital's zone: 08:00, 08:15... on that day.
        begin = start + timedelta(minutes=minute)
        result.append(
            Slot(
                room_code,
                begin,
                begin + timedelta(minutes=room.slot_minutes),
                room.slot_capacity,
                booked.get(begin.astimezone(UTC), 0),
            )
        )
    return result


def book(conn: Connection, exam_id: int, room_code: str, start: datetime, username: str) -> Any:
    row = exams.exam_row(conn, exam_id)
    if row.status not in status.NOT_STARTED:
        raise Conflict("ris.booking.started")
    room = catalogue.room(conn, room_code)
    # Bookings of one room queue on its row, so two desks cannot both take the last place.
    conn.execute(select(ris_rooms.c.code).where(ris_rooms.c.code == room_code).with_for_update())
    if room.modality != row.modality:
        raise RisError(
            "ris.booking.wrong_modality",
            room=room_code,
            room_name=room.name,
            modality=room.modality,
        )
    start = clock.from_local(start)
    day = clock.local(start).date()
    slot = next((s for s in slots(conn, room_code, day) if s.start == start), None)
    if slot is None:
        raise RisError(
            "ris.booking.not_a_slot", room=room_code, room_name=room.name, at=clock.shown(start)
        )
    existing = conn.execute(
        select(ris_appointments).where(ris_appointments.c.exam_fk == exam_id)
    ).first()
    same = existing is not None and existing.room == room_code and existing.start == start
    if not same and slot.free <= 0:
        raise Conflict("ris.booking.full", at=clock.shown(start, "%H:%M"))
    values = {"room": room_code, "start": start, "booked_by": username, "booked_at": records.now()}
    if existing is None:
        conn.execute(insert(ris_appointments).values(exam_fk=exam_id, **values))
    else:
        conn.execute(
            update(ris_appointments).where(ris_appointments.c.id == existing.id).values(**values)
        )
    conn.execute(
        update(ris_exams)
        .where(ris_exams.c.id == exam_id)
        .values(room=room_code, station_ae=room.station_ae, scheduled_at=start)
    )
    return values


class Appointments(RisCore):
    """The service's appointment methods."""

    def slots(self, room: str, day: date) -> list[Slot]:
        """The room's slots of the hospital's day ``day`` with how many are booked."""
        with db.read(self.engine) as conn:
            return slots(conn, room, day)

    def book(self, exam_id: int, room: str, start: datetime, *, username: str) -> Appointment:
        """Book the exam into a slot (moving any earlier booking); a full slot is Conflict.
        ``start`` without a zone is the hospital's wall clock."""
        with self._write() as conn:
            values = book(conn, exam_id, room, start, username)
        self.bus.publish(EXAM_CHANGED, {"exam_id": exam_id, "what": "booked"})
        return Appointment(
            exam_id, values["room"], values["start"], values["booked_by"], values["booked_at"]
        )
