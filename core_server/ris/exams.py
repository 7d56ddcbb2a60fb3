"""Orders and their exams: creation, changes, status steps with history, retakes, bookings."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from pydicom.uid import RE_VALID_UID, generate_uid
from sqlalchemy import Connection, func, insert, or_, select, text, update

from core_server import db
from core_server.ris import catalogue, records, status
from core_server.ris.models import (
    Conflict,
    Exam,
    ExamStatus,
    NotFound,
    OrderIn,
    Priority,
    ProcedureRequest,
    RetakeKind,
    RisError,
    Slot,
    StatusChange,
)
from core_server.ris.tables import (
    ris_appointments,
    ris_exam_history,
    ris_exam_studies,
    ris_exams,
    ris_orders,
    ris_patients,
    ris_rooms,
    ris_visits,
)


def order_row(
    conn: Connection,
    *,
    placer_order_number: str = "",
    placer_application: str = "",
    filler_order_number: str = "",
) -> Any:
    query = select(ris_orders).with_for_update()
    if filler_order_number:
        query = query.where(ris_orders.c.filler_order_number == filler_order_number)
    elif placer_order_number:
        query = query.where(
            ris_orders.c.placer_order_number == placer_order_number,
            ris_orders.c.placer_application == placer_application,
        )
    else:
        raise RisError("需要申请单号 / a placer or filler order number is required")
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"申请单不存在 / no order {filler_order_number or placer_order_number!r}")
    return row


def _priority(value: str) -> str:
    try:
        return Priority(value.upper()).value
    except ValueError:
        known = ", ".join(p.value for p in Priority)
        raise RisError(f"未知的优先级 / unknown priority {value!r}; known: {known}") from None


def create_order(
    conn: Connection, patient_row: Any, order: OrderIn, username: str
) -> tuple[int, list[StatusChange]]:
    placer = order.placer_order_number.strip()
    if not placer or len(placer) > 64:
        raise RisError("申请单号为1到64个字符 / a placer order number has 1 to 64 characters")
    if not order.procedures:
        raise RisError("申请单至少包含一个检查项目 / an order needs at least one procedure")
    if patient_row.merged_into_fk is not None:
        raise Conflict(f"患者 {patient_row.patient_id} 已被合并 / that patient was merged away")
    taken = conn.execute(
        select(ris_orders.c.id).where(
            ris_orders.c.placer_order_number == placer,
            ris_orders.c.placer_application == order.placer_application,
        )
    ).first()
    if taken:
        raise Conflict(f"申请单号 {placer} 已存在 / order {placer!r} exists already")
    filler = order.filler_order_number.strip() or "F" + records.day_number(conn, "filler")
    visit_fk = None
    if order.visit_number:
        visit = conn.execute(
            select(ris_visits).where(ris_visits.c.visit_number == order.visit_number)
        ).first()
        if visit is None:
            raise NotFound(f"就诊不存在 / no visit {order.visit_number!r}")
        if visit.patient_fk != patient_row.id:
            raise Conflict(f"就诊 {order.visit_number} 属于其他患者 / visit of another patient")
        visit_fk = visit.id
    order_id = conn.execute(
        insert(ris_orders)
        .values(
            patient_fk=patient_row.id,
            visit_fk=visit_fk,
            placer_order_number=placer,
            placer_application=order.placer_application,
            filler_order_number=filler,
            referring_physician=order.referring_physician,
            referring_department=order.referring_department,
            clinical_info=order.clinical_info,
            priority=_priority(order.priority),
            emergency=order.emergency,
            bedside=order.bedside,
            status="active",
            created_by=username,
            created_at=records.now(),
        )
        .returning(ris_orders.c.id)
    ).scalar_one()
    changes = [
        add_exam(conn, order_id, patient_row.id, request, username) for request in order.procedures
    ]
    return order_id, changes


def add_exam(
    conn: Connection,
    order_id: int,
    patient_fk: int,
    request: ProcedureRequest,
    username: str,
    *,
    initial: ExamStatus = ExamStatus.SCHEDULED,
    retake_of: int | None = None,
    retake_kind: str = "",
    reason: str = "",
) -> StatusChange:
    item = catalogue.procedure(conn, request.procedure_code)
    accession = request.accession_number.strip() or records.day_number(conn, "accession")
    if len(accession) > 16:
        raise RisError(f"检查号最多16个字符 / accession number {accession!r} is over 16 characters")
    if conn.execute(
        select(ris_exams.c.id).where(ris_exams.c.accession_number == accession)
    ).first():
        raise Conflict(f"检查号 {accession} 已存在 / accession number {accession!r} exists already")
    room, station_ae = request.room, request.station_ae
    if room and not station_ae:
        station_ae = catalogue.room(conn, room).station_ae
    stamp = records.now()
    exam_id = conn.execute(
        insert(ris_exams)
        .values(
            order_fk=order_id,
            patient_fk=patient_fk,
            accession_number=accession,
            requested_procedure_id=(request.requested_procedure_id.strip() or accession)[:16],
            scheduled_step_id=accession,
            study_instance_uid=_study_uid(conn, request.study_instance_uid),
            procedure_code=item.code,
            procedure_name=item.name_zh,
            modality=request.modality or item.modality,
            body_part=request.body_part or item.body_part,
            department=request.department or item.department,
            room=room,
            station_ae=station_ae,
            scheduled_at=_local(request.scheduled_at) or datetime.now().replace(microsecond=0),
            notes=request.notes,
            status=initial.value,
            status_at=stamp,
            status_by=username,
            retake_of_fk=retake_of,
            retake_kind=retake_kind,
            created_at=stamp,
        )
        .returning(ris_exams.c.id)
    ).scalar_one()
    return _record(conn, exam_id, accession, None, initial.value, username, stamp, reason)


def _study_uid(conn: Connection, given: str) -> str:
    """The order placer's Study Instance UID, checked; a new one when none is given."""
    uid = given.strip()
    if not uid:
        return str(generate_uid())
    if len(uid) > 64 or not RE_VALID_UID.match(uid):
        raise RisError(f"检查实例UID无效 / {uid!r} is not a valid Study Instance UID")
    for table in (ris_exams, ris_exam_studies):
        if conn.execute(select(table.c.id).where(table.c.study_instance_uid == uid)).first():
            raise Conflict(
                f"检查实例UID {uid} 已属于另一检查 / Study Instance UID {uid!r} belongs to "
                "another exam already"
            )
    return uid


def _local(value: datetime | None) -> datetime | None:
    """Scheduled times are the hospital's wall-clock time (what the worklist sends)."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone().replace(tzinfo=None)


def _record(
    conn: Connection,
    exam_id: int,
    accession: str,
    old: str | None,
    new: str,
    username: str,
    at: datetime,
    reason: str,
) -> StatusChange:
    change_id = conn.execute(
        insert(ris_exam_history)
        .values(
            exam_fk=exam_id, old_status=old, new_status=new, username=username, at=at, reason=reason
        )
        .returning(ris_exam_history.c.id)
    ).scalar_one()
    return StatusChange(exam_id, accession, old, new, username, at, reason, change_id)


# Any fixed 64-bit key: the PostgreSQL advisory lock every RIS write transaction takes first.
_WRITE_LOCK = 0x52495357  # "RISW"


def serialize_writes(conn: Connection) -> None:
    """One RIS write transaction at a time on PostgreSQL, as SQLite's BEGIN IMMEDIATE does.

    The status history is an outbox read by cursor (:func:`changes_after`): a change id taken
    by a transaction that commits after a higher one would be skipped by a reader already past
    it. Held from the start of every write until its commit, the lock makes ids commit in
    order; taken first, before any row lock, it cannot deadlock with them."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _WRITE_LOCK})


def changes_after(conn: Connection, after: int, limit: int) -> list[StatusChange]:
    rows = conn.execute(
        select(ris_exam_history, ris_exams.c.accession_number)
        .join(ris_exams, ris_exams.c.id == ris_exam_history.c.exam_fk)
        .where(ris_exam_history.c.id > after)
        .order_by(ris_exam_history.c.id)
        .limit(limit)
    )
    return [_change(r, r.accession_number) for r in rows]


def last_change_id(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(ris_exam_history.c.id), 0))).scalar_one())


def _change(r: Any, accession: str) -> StatusChange:
    return StatusChange(
        r.exam_fk,
        accession,
        r.old_status,
        r.new_status,
        r.username,
        records.aware(r.at),  # type: ignore[arg-type]
        r.reason,
        r.id,
    )


def exam_row(conn: Connection, exam_id: int) -> Any:
    row = conn.execute(select(ris_exams).where(ris_exams.c.id == exam_id).with_for_update()).first()
    if row is None:
        raise NotFound(f"检查不存在 / no exam {exam_id}")
    return row


def transition(
    conn: Connection, exam_id: int, new: str, username: str, reason: str = ""
) -> StatusChange:
    row = exam_row(conn, exam_id)
    target = status.check(row.status, new)
    stamp = records.now()
    conn.execute(
        update(ris_exams)
        .where(ris_exams.c.id == exam_id)
        .values(status=target.value, status_at=stamp, status_by=username)
    )
    return _record(
        conn, exam_id, row.accession_number, row.status, target.value, username, stamp, reason
    )


def history(conn: Connection, exam_id: int) -> list[StatusChange]:
    accession = exam_row(conn, exam_id).accession_number
    rows = conn.execute(
        select(ris_exam_history)
        .where(ris_exam_history.c.exam_fk == exam_id)
        .order_by(ris_exam_history.c.id)
    )
    return [_change(r, accession) for r in rows]


def cancel_order(conn: Connection, row: Any, username: str, reason: str) -> list[StatusChange]:
    exams = list(conn.execute(select(ris_exams).where(ris_exams.c.order_fk == row.id)))
    started = [
        e.accession_number for e in exams if e.status not in (*status.NOT_STARTED, "cancelled")
    ]
    if started:
        raise Conflict(
            f"申请单中的检查已开始，不能取消 / exams already started cannot be cancelled: "
            f"{', '.join(started)}"
        )
    conn.execute(update(ris_orders).where(ris_orders.c.id == row.id).values(status="cancelled"))
    return [
        transition(conn, e.id, ExamStatus.CANCELLED, username, reason)
        for e in exams
        if e.status != ExamStatus.CANCELLED
    ]


def change_order(conn: Connection, row: Any, order: OrderIn, username: str) -> list[StatusChange]:
    """Order-level fields, and each procedure matched to its exam by accession number or
    procedure code: exams not yet started take the new time/room/procedure; a procedure that
    is new is added; exams whose procedure is gone are cancelled."""
    if row.status == "cancelled":
        raise Conflict(f"申请单已取消 / order {row.placer_order_number!r} is cancelled")
    conn.execute(
        update(ris_orders)
        .where(ris_orders.c.id == row.id)
        .values(
            referring_physician=order.referring_physician or row.referring_physician,
            referring_department=order.referring_department or row.referring_department,
            clinical_info=order.clinical_info or row.clinical_info,
            priority=_priority(order.priority),
            emergency=order.emergency,
            bedside=order.bedside,
        )
    )
    exams = list(
        conn.execute(
            select(ris_exams)
            .where(ris_exams.c.order_fk == row.id, ris_exams.c.status != "cancelled")
            .order_by(ris_exams.c.id)
        )
    )
    changes: list[StatusChange] = []
    kept: set[int] = set()
    for request in order.procedures:
        match = next(
            (
                e
                for e in exams
                if e.id not in kept
                and (
                    (request.accession_number and e.accession_number == request.accession_number)
                    or (not request.accession_number and e.procedure_code == request.procedure_code)
                )
            ),
            None,
        )
        if match is None:
            changes.append(add_exam(conn, row.id, row.patient_fk, request, username))
            continue
        kept.add(match.id)
        if match.status not in status.NOT_STARTED:
            continue  # performed exams keep what was performed
        values: dict[str, Any] = {}
        if request.procedure_code != match.procedure_code:
            item = catalogue.procedure(conn, request.procedure_code)
            values |= {
                "procedure_code": item.code,
                "procedure_name": item.name_zh,
                "modality": request.modality or item.modality,
                "body_part": request.body_part or item.body_part,
            }
        if request.scheduled_at is not None:
            values["scheduled_at"] = _local(request.scheduled_at)
        if request.room:
            values["room"] = request.room
            values["station_ae"] = (
                request.station_ae or catalogue.room(conn, request.room).station_ae
            )
        elif request.station_ae:
            values["station_ae"] = request.station_ae
        given_uid = request.study_instance_uid.strip()
        if given_uid and given_uid != match.study_instance_uid:  # not started: no images yet
            values["study_instance_uid"] = _study_uid(conn, given_uid)
        if values:
            conn.execute(update(ris_exams).where(ris_exams.c.id == match.id).values(**values))
    for e in exams:
        if e.id not in kept and e.status in status.NOT_STARTED:
            changes.append(
                transition(conn, e.id, ExamStatus.CANCELLED, username, "removed from the order")
            )
    return changes


def retake(
    conn: Connection, exam_id: int, kind: str, username: str, procedure_code: str, reason: str
) -> StatusChange:
    try:
        retake_kind = RetakeKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in RetakeKind)
        raise RisError(f"未知的补拍类型 / unknown retake kind {kind!r}; known: {known}") from None
    original = exam_row(conn, exam_id)
    if original.status not in (
        ExamStatus.IN_PROGRESS,
        ExamStatus.COMPLETED,
        ExamStatus.REPORTED,
        ExamStatus.VERIFIED,
    ):
        raise Conflict(
            "只有已开始或已完成的检查可以加拍/补拍/重拍 / only a started or completed exam can "
            "be retaken"
        )
    request = ProcedureRequest(
        procedure_code=procedure_code or original.procedure_code,
        room=original.room,
        station_ae=original.station_ae,
        department=original.department,
        scheduled_at=datetime.now().replace(microsecond=0),
    )
    return add_exam(
        conn,
        original.order_fk,
        original.patient_fk,
        request,
        username,
        initial=ExamStatus.ARRIVED,
        retake_of=original.id,
        retake_kind=retake_kind.value,
        reason=reason or f"{retake_kind.value} of {original.accession_number}",
    )


def change_procedure(
    conn: Connection, exam_id: int, procedure_code: str, username: str, reason: str
) -> StatusChange:
    row = exam_row(conn, exam_id)
    if row.status not in (*status.NOT_STARTED, ExamStatus.IN_PROGRESS):
        raise Conflict("已完成的检查不能更改检查项目 / a completed exam keeps its exam item")
    item = catalogue.procedure(conn, procedure_code)
    conn.execute(
        update(ris_exams)
        .where(ris_exams.c.id == exam_id)
        .values(
            procedure_code=item.code,
            procedure_name=item.name_zh,
            modality=item.modality,
            body_part=item.body_part,
            department=item.department,
        )
    )
    note = f"procedure {row.procedure_code} -> {item.code}" + (f": {reason}" if reason else "")
    return _record(
        conn, exam_id, row.accession_number, row.status, row.status, username, records.now(), note
    )


def listing(
    conn: Connection,
    *,
    day: date | None = None,
    modality: str = "",
    room: str = "",
    statuses: list[str] | None = None,
    patient_id: str = "",
    text: str = "",
    limit: int = 200,
) -> list[Exam]:
    query = records.exam_query()
    if day is not None:
        start = datetime.combine(day, time())
        query = query.where(
            ris_exams.c.scheduled_at >= start, ris_exams.c.scheduled_at < start + timedelta(days=1)
        )
    if modality:
        query = query.where(ris_exams.c.modality == modality)
    if room:
        # The room's own exams, and those of its modality not yet given a room.
        room_modality = catalogue.room(conn, room).modality
        query = query.where(
            or_(
                ris_exams.c.room == room,
                (ris_exams.c.room == "") & (ris_exams.c.modality == room_modality),
            )
        )
    if statuses:
        for value in statuses:
            status.parse(value)
        query = query.where(ris_exams.c.status.in_(statuses))
    if patient_id:
        query = query.where(ris_patients.c.patient_id == patient_id)
    if text:
        value = text.strip()
        upper = value.upper()
        query = query.where(
            or_(
                ris_exams.c.accession_number == value,
                ris_patients.c.patient_id == value,
                db.starts_with(ris_patients.c.name, value),
                db.starts_with(ris_patients.c.name_initials, upper),
                db.starts_with(ris_patients.c.name_pinyin, upper),
            )
        )
    query = query.order_by(
        ris_orders.c.emergency.desc(), ris_exams.c.scheduled_at, ris_exams.c.id
    ).limit(limit)
    return [records.exam(r) for r in conn.execute(query)]


def slots(conn: Connection, room_code: str, day: date) -> list[Slot]:
    room = catalogue.room(conn, room_code)
    opens, closes = catalogue.minutes_of_day(room.opens), catalogue.minutes_of_day(room.closes)
    start = datetime.combine(day, time())
    booked: dict[datetime, int] = dict(
        conn.execute(
            select(ris_appointments.c.start, func.count())
            .join(ris_exams, ris_exams.c.id == ris_appointments.c.exam_fk)
            .where(
                ris_appointments.c.room == room_code,
                ris_appointments.c.start >= start,
                ris_appointments.c.start < start + timedelta(days=1),
                ris_exams.c.status != ExamStatus.CANCELLED,
            )
            .group_by(ris_appointments.c.start)
        ).all()
    )
    result = []
    for minute in range(opens, closes - room.slot_minutes + 1, room.slot_minutes):
        begin = start + timedelta(minutes=minute)
        result.append(
            Slot(
                room_code,
                begin,
                begin + timedelta(minutes=room.slot_minutes),
                room.slot_capacity,
                int(booked.get(begin, 0)),
            )
        )
    return result


def book(conn: Connection, exam_id: int, room_code: str, start: datetime, username: str) -> Any:
    row = exam_row(conn, exam_id)
    if row.status not in status.NOT_STARTED:
        raise Conflict("已开始的检查不能预约 / a started exam cannot be booked")
    room = catalogue.room(conn, room_code)
    # Bookings of one room queue on its row, so two desks cannot both take the last place.
    conn.execute(select(ris_rooms.c.code).where(ris_rooms.c.code == room_code).with_for_update())
    if room.modality != row.modality:
        raise RisError(
            f"检查室 {room.name} 不做 {row.modality} 检查 / room {room_code} is for {room.modality}"
        )
    start = _local(start) or start
    slot = next((s for s in slots(conn, room_code, start.date()) if s.start == start), None)
    if slot is None:
        raise RisError(
            f"{start:%Y-%m-%d %H:%M} 不是 {room.name} 的预约时段 / not a slot of room {room_code}"
        )
    existing = conn.execute(
        select(ris_appointments).where(ris_appointments.c.exam_fk == exam_id)
    ).first()
    same = existing is not None and existing.room == room_code and existing.start == start
    if not same and slot.free <= 0:
        raise Conflict(f"{start:%H:%M} 时段已约满 / the slot at {start:%H:%M} is full")
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
