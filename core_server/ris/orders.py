"""Orders (HL7 ORC/OBR, ORM^O01 or OMI^O23, or the REST API): placing one with an exam per
requested procedure, changing it (XO), cancelling it (CA)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection, insert, select, update

from core_server import db
from core_server.ris import catalogue, exams, reconciliation, records, status
from core_server.ris.base import RisCore
from core_server.ris.models import (
    Conflict,
    ExamStatus,
    NotFound,
    Order,
    OrderIn,
    Priority,
    ProcedureRequest,
    RisError,
    StatusChange,
)
from core_server.ris.tables import ris_exams, ris_orders, ris_visits

log = logging.getLogger(__name__)


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
        raise RisError("ris.order.number_required")
    row = conn.execute(query).first()
    if row is None:
        raise NotFound("ris.order.not_found", number=filler_order_number or placer_order_number)
    return row


def _priority(value: str) -> str:
    try:
        return Priority(value.upper()).value
    except ValueError:
        known = ", ".join(p.value for p in Priority)
        raise RisError("ris.order.unknown_priority", priority=value, known=known) from None


def _visit_fk(conn: Connection, patient_row: Any, visit_number: str) -> int | None:
    if not visit_number:
        return None
    visit = conn.execute(
        select(ris_visits).where(ris_visits.c.visit_number == visit_number)
    ).first()
    if visit is None:
        raise NotFound("ris.visit.not_found", visit_number=visit_number)
    if visit.patient_fk != patient_row.id:
        raise Conflict("ris.visit.of_another_patient", visit_number=visit_number)
    return int(visit.id)


def create_order(
    conn: Connection, patient_row: Any, order: OrderIn, username: str
) -> tuple[int, list[StatusChange]]:
    placer = order.placer_order_number.strip()
    if not placer or len(placer) > 64:
        raise RisError("ris.order.placer_invalid")
    if not order.procedures:
        raise RisError("ris.order.no_procedure")
    if patient_row.merged_into_fk is not None:
        raise Conflict("ris.patient.merged_away", patient_id=patient_row.patient_id)
    taken = conn.execute(
        select(ris_orders.c.id).where(
            ris_orders.c.placer_order_number == placer,
            ris_orders.c.placer_application == order.placer_application,
        )
    ).first()
    if taken:
        raise Conflict("ris.order.placer_taken", placer=placer)
    filler = order.filler_order_number.strip() or "F" + records.day_number(conn, "filler")
    order_id = conn.execute(
        insert(ris_orders)
        .values(
            patient_fk=patient_row.id,
            visit_fk=_visit_fk(conn, patient_row, order.visit_number),
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
        exams.add_exam(conn, order_id, patient_row.id, request, username)
        for request in order.procedures
    ]
    return order_id, changes


def cancel_order(conn: Connection, row: Any, username: str, reason: str) -> list[StatusChange]:
    found = list(conn.execute(select(ris_exams).where(ris_exams.c.order_fk == row.id)))
    started = [
        e.accession_number for e in found if e.status not in (*status.NOT_STARTED, "cancelled")
    ]
    if started:
        raise Conflict("ris.order.started", accessions=", ".join(started))
    conn.execute(update(ris_orders).where(ris_orders.c.id == row.id).values(status="cancelled"))
    return [
        exams.transition(conn, e.id, ExamStatus.CANCELLED, username, reason)
        for e in found
        if e.status != ExamStatus.CANCELLED
    ]


def change_order(conn: Connection, row: Any, order: OrderIn, username: str) -> list[StatusChange]:
    """Order-level fields, and each procedure matched to its exam by accession number or
    procedure code: exams not yet started take the new time/room/procedure; a procedure that
    is new is added; exams whose procedure is gone are cancelled."""
    if row.status == "cancelled":
        raise Conflict("ris.order.cancelled", placer=row.placer_order_number)
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
    current = list(
        conn.execute(
            select(ris_exams)
            .where(ris_exams.c.order_fk == row.id, ris_exams.c.status != "cancelled")
            .order_by(ris_exams.c.id)
        )
    )
    changes: list[StatusChange] = []
    kept: set[int] = set()
    for request in order.procedures:
        match = _matching_exam(current, kept, request)
        if match is None:
            changes.append(exams.add_exam(conn, row.id, row.patient_fk, request, username))
            continue
        kept.add(match.id)
        if match.status in status.NOT_STARTED:  # performed exams keep what was performed
            _reschedule(conn, match, request)
    for e in current:
        if e.id not in kept and e.status in status.NOT_STARTED:
            changes.append(
                exams.transition(
                    conn, e.id, ExamStatus.CANCELLED, username, "removed from the order"
                )
            )
    return changes


def _matching_exam(current: list[Any], kept: set[int], request: ProcedureRequest) -> Any:
    """The order's exam a changed procedure names: by accession number, else by item code."""
    for e in current:
        if e.id in kept:
            continue
        if request.accession_number:
            if e.accession_number == request.accession_number:
                return e
        elif e.procedure_code == request.procedure_code:
            return e
    return None


def _reschedule(conn: Connection, match: Any, request: ProcedureRequest) -> None:
    """A not-started exam takes the changed procedure's item, time, room and study UID."""
    values: dict[str, Any] = {}
    if request.procedure_code != match.procedure_code:
        item = catalogue.procedure(conn, request.procedure_code)
        values |= {
            "procedure_code": item.code,
            "procedure_name": item.name_zh,
            "modality": request.modality or item.modality,
            "body_part": request.body_part or item.body_part,
            "fee_fen": item.price_fen,
        }
    if request.scheduled_at is not None:
        values["scheduled_at"] = records.moment(request.scheduled_at)
    if request.room:
        values["room"] = request.room
        values["station_ae"] = request.station_ae or catalogue.room(conn, request.room).station_ae
    elif request.station_ae:
        values["station_ae"] = request.station_ae
    given_uid = request.study_instance_uid.strip()
    if given_uid and given_uid != match.study_instance_uid:  # not started: no images yet
        values["study_instance_uid"] = exams.study_uid(conn, given_uid)
    if values:
        conn.execute(update(ris_exams).where(ris_exams.c.id == match.id).values(**values))


class Orders(RisCore):
    """The service's order methods."""

    def place_order(self, patient_id: str, issuer: str, order: OrderIn, *, username: str) -> Order:
        """A new order with one exam per requested procedure (status scheduled). Accession
        numbers, requested procedure IDs, the filler order number and the Study Instance UID
        are generated when not given; the same placer order number again is :class:`Conflict`."""
        with self._write() as conn:
            owner = records.patient_row(conn, patient_id, issuer)
            order_id, changes = create_order(conn, owner, order, username)
            row = conn.execute(select(ris_orders).where(ris_orders.c.id == order_id)).one()
            placed = records.order(conn, row)
        self._publish(changes)
        self._adopt_waiting(placed)
        return placed

    def _adopt_waiting(self, order: Order) -> None:
        """Images that arrived before their order (an emergency scanned first, the order typed
        in afterwards) are on the reconciliation list: link those naming this patient and one
        of the new accession numbers (or Study Instance UIDs the HIS gave)."""
        with db.read(self.engine) as conn:
            waiting = reconciliation.unmatched_studies(conn)
        for study in waiting:
            exam = next(
                (
                    e
                    for e in order.exams
                    if e.accession_number == study.accession_number
                    or e.study_instance_uid == study.study_instance_uid
                ),
                None,
            )
            if exam is not None and study.patient_id == order.patient_id:
                try:
                    self.link_study(
                        study.study_instance_uid, exam.id, username="auto", reason="order arrived"
                    )
                except RisError:
                    log.exception("could not link waiting study %s", study.study_instance_uid)

    def change_order(self, order: OrderIn, *, username: str) -> Order:
        """Change an order found by its placer number (XO): priority, flags, scheduled time,
        room and the procedures of exams not yet started."""
        with self._write() as conn:
            row = order_row(
                conn,
                placer_order_number=order.placer_order_number,
                placer_application=order.placer_application,
                filler_order_number=order.filler_order_number,
            )
            changes = change_order(conn, row, order, username)
            row = conn.execute(select(ris_orders).where(ris_orders.c.id == row.id)).one()
            changed = records.order(conn, row)
        self._publish(changes)
        return changed

    def cancel_order(
        self,
        *,
        placer_order_number: str = "",
        placer_application: str = "",
        filler_order_number: str = "",
        username: str,
        reason: str = "",
    ) -> Order:
        """Cancel an order (CA): every exam not yet started is cancelled; an order with a
        started exam is :class:`Conflict`."""
        with self._write() as conn:
            row = order_row(
                conn,
                placer_order_number=placer_order_number,
                placer_application=placer_application,
                filler_order_number=filler_order_number,
            )
            changes = cancel_order(conn, row, username, reason or "order cancelled")
            row = conn.execute(select(ris_orders).where(ris_orders.c.id == row.id)).one()
            cancelled = records.order(conn, row)
        self._publish(changes)
        return cancelled

    def order(
        self,
        *,
        placer_order_number: str = "",
        placer_application: str = "",
        filler_order_number: str = "",
    ) -> Order:
        with db.read(self.engine) as conn:
            row = order_row(
                conn,
                placer_order_number=placer_order_number,
                placer_application=placer_application,
                filler_order_number=filler_order_number,
            )
            return records.order(conn, row)
