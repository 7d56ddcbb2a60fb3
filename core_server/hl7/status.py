"""Outbound exam status: each RIS exam status change as an order status message to the HIS.

IHE SWF "procedure status update" from the department system to the order placer: ORM^O01
(v2.3.1, ORC-1 ``SC``) or OMI^O23 (v2.5, with TQ1 and IPC), chosen per destination. ORC-5 is
HL7 table 0038; table 0038 has no "arrived", so arrival is SC with OBR-25 ``I`` (procedure
incomplete), and the RIS status itself (and the reason of a cancellation) goes in NTE-3 for a
HIS that wants the finer states. Only exams of orders the HIS placed (their order has a placer
application: ORC-2.2 or MSH-3 of the ORM/OMI) are reported; orders placed at our own desk are
unknown to the HIS.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from core_server import db
from core_server.hl7 import cursors, outbound, people
from core_server.hl7.message import escape, timestamp
from core_server.ris import EXAM_STATUS_CHANGED, Exam, NotFound, Ris, StatusChange

log = logging.getLogger(__name__)

CURSOR = "order_status"  # the reporter's row in hl7_status_cursor
BATCH = 200  # changes read and queued per transaction

# RIS exam status -> (ORC-5 order status, table 0038; OBR-25 result status, table 0123).
ORDER_STATUS = {
    "scheduled": ("SC", "S"),
    "arrived": ("SC", "I"),
    "in_progress": ("IP", "I"),
    "completed": ("CM", "R"),
    "reported": ("CM", "P"),
    "verified": ("CM", "F"),
    "cancelled": ("CA", "X"),
    "no_show": ("DC", "X"),
}


class StatusReporter:
    """Reads the RIS's status history as an outbox: the changes after its cursor become one
    status message per destination that wants order status, queued in the transaction that
    moves the cursor past them, so a change committed by the RIS is never lost on its way to
    the queue (a crash before that commit leaves the cursor where it was) and never queued
    twice (the cursor moves by a conditional UPDATE: of several core processes reading the
    same changes only one commits). The sender calls :meth:`catch_up` before each round (at
    start-up too); the bus event ``ris.exam_status_changed`` only wakes it."""

    def __init__(self, engine: Engine, ris: Ris, application: str, wake: Any = None) -> None:
        self.engine = engine
        self.ris = ris
        self.application = application
        self.wake = wake

    def subscribe(self, bus: Any) -> None:
        bus.subscribe(EXAM_STATUS_CHANGED, self)

    def __call__(self, topic: str, payload: dict[str, Any]) -> None:
        if self.wake is not None:
            self.wake()

    def catch_up(self) -> int:
        """Queue the messages of every change not yet read; the number of changes read."""
        total = 0
        while True:
            after = cursors.position(self.engine, CURSOR)
            changes = self.ris.status_changes(after, BATCH)
            if not changes:
                return total
            messages = self._messages(changes)
            with db.write(self.engine) as conn:
                if not cursors.advance(conn, CURSOR, after, changes[-1].change_id):
                    continue  # another process took these changes: read on from its cursor
                for destination, message in messages:
                    outbound.enqueue(conn, destination, message, source=EXAM_STATUS_CHANGED)
            total += len(changes)

    def _messages(self, changes: list[StatusChange]) -> list[tuple[str, str]]:
        """(destination name, message) for each change, in order."""
        wanted = [
            d
            for d in outbound.list_destinations(self.engine)
            if d.enabled and d.serves(outbound.ORDER_STATUS)
        ]
        if not wanted:
            return []
        out = []
        for change in changes:
            try:
                exam = self.ris.exam(change.exam_id)
                order = self.ris.order(filler_order_number=exam.filler_order_number)
                if not order.placer_application:
                    continue  # an order placed at our desk: the HIS does not know it
                for destination in wanted:
                    message = status_message(
                        exam,
                        change.new_status,
                        destination,
                        self.application,
                        order.placer_application,
                        change.as_dict(),
                    )
                    message.encode(destination.codec)
                    out.append((destination.name, message))
            except NotFound:
                log.warning("HL7 status: exam %s is gone", change.exam_id)
            except Exception:
                # One change that cannot be written must not hold up every later one.
                log.exception(
                    "HL7 status: change %d of exam %s (%s) not reported",
                    change.change_id,
                    change.accession_number,
                    change.new_status,
                )
        return out


def status_message(
    exam: Exam,
    status: str,
    destination: outbound.Destination,
    application: str,
    placer_application: str = "",
    change: dict[str, Any] | None = None,
) -> str:
    """The ORM^O01 or OMI^O23 telling the order placer the exam's status."""
    order_status, result_status = ORDER_STATUS.get(status, ("SC", "I"))
    omi = destination.status_message == "OMI"
    version = "2.5" if omi else "2.3.1"
    kind = "OMI^O23^OMI_O23" if omi else "ORM^O01"
    codec = destination.codec
    when = timestamp()
    changed_at = (change or {}).get("at")
    # ORC-9: when the status changed (the message may go out much later, after retries).
    changed = timestamp(datetime.fromisoformat(changed_at)) if changed_at else when
    names = people.xpn(people.person(exam.patient_name, exam.patient_name_pinyin), codec)
    placer = escape(exam.placer_order_number)
    if placer_application:  # ORC-2/OBR-2 as the placer sent them: number^application
        placer += f"^{escape(placer_application)}"
    filler = escape(exam.filler_order_number)
    service = f"{escape(exam.procedure_code)}^{people.text(exam.procedure_name, codec)}^L"
    scheduled = timestamp(exam.scheduled_at) if exam.scheduled_at else ""
    note = people.text(str((change or {}).get("reason") or ""), codec)
    segments = [
        f"MSH|^~\\&|{escape(application)}||||{when}||{kind}||P|{version}",
        f"PID|1||{escape(exam.patient_id)}^^^{escape(exam.issuer)}||{names}",
        # ORC-7 (quantity/timing) is v2.3.1's place for the scheduled time; OMI has TQ1.
        f"ORC|SC|{placer}|{filler}||{order_status}||{'' if omi else '^^^' + scheduled}||{changed}",
    ]
    if omi:
        segments.append(f"TQ1|1||||||{scheduled}||{_priority(exam.priority)}")
    obr = [
        "OBR",
        "1",
        placer,
        filler,
        service,
        *[""] * 13,
        escape(exam.accession_number),  # OBR-18
        escape(exam.requested_procedure_id),  # OBR-19
        escape(exam.scheduled_step_id),  # OBR-20
        "",
        "",
        "",
        escape(exam.modality),  # OBR-24
        result_status,  # OBR-25
    ]
    if not omi:
        obr += [*[""] * 10, scheduled]  # OBR-36
    segments.append("|".join(obr))
    if omi:
        segments.append(
            "|".join(
                [
                    "IPC",
                    escape(exam.accession_number),
                    escape(exam.requested_procedure_id),
                    escape(exam.study_instance_uid),
                    escape(exam.scheduled_step_id),
                    escape(exam.modality),
                    "",
                    "",
                    escape(exam.room),
                    escape(exam.station_ae),
                ]
            )
        )
    else:
        segments.append(f"ZDS|{escape(exam.study_instance_uid)}^^Application^DICOM")
    segments.append(f"NTE|1|L|{escape(status)}{': ' + note if note else ''}")
    return "\r".join(segments) + "\r"


def _priority(priority: str) -> str:
    return {"STAT": "S", "HIGH": "A", "MEDIUM": "R", "LOW": "R"}.get(priority, "R")
