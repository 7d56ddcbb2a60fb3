"""Outbound results and critical values: reports as ORU^R01 and critical-value alerts to the HIS.

Read from the reporting domain's outboxes by cursor, as :mod:`core_server.hl7.status` reads the
RIS's status history, and queued on the same durable outbound queue:

* a submission (:meth:`Reporting.result_events`) -> ORU^R01 with OBR-25 / OBX-11 ``P``
  (preliminary; not for an amendment in progress: the HIS keeps the signed result until the
  correction comes); a signature -> ``F`` (final) or ``C`` (corrected, after an amendment);
* a critical value raised or escalated (:meth:`Reporting.alert_notices`) -> an ORU^R01 whose
  OBX carries the critical value with abnormal flag ``AA`` (HL7 table 0078: critically
  abnormal) and an NTE with the alert number and escalation level.

The messages of a batch are queued in the transaction that moves the reader's cursor (a row of
``hl7_status_cursor``: ``results``, ``critical_values``) past it, with a conditional UPDATE: a
step committed by reporting is never lost on its way to the queue (a crash before that commit
leaves the cursor where it was) and never queued twice, also with several core processes. The
sender calls :meth:`ResultReporter.catch_up` before each round (at start-up too); the bus
events only wake it.

Destinations choose what they get by purpose: ``results`` (reports) and ``critical_values``.
Reports go out only for orders the HIS placed (as status messages do); critical values go
out for every patient: they are about the patient, whoever ordered the exam. Each queued
critical-value message is recorded in the alert's chain (``queued``, with the job id) in the
same transaction; the reporting ticker asks :meth:`ResultReporter.watch_deliveries` to record
the ACK (``delivered``) or the dead letter (``failed``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from core_server import auth, db
from core_server.hl7 import cursors, outbound, people
from core_server.hl7.message import escape, timestamp
from core_server.reporting import (
    CRITICAL_VALUE_ESCALATED,
    CRITICAL_VALUE_RAISED,
    REPORT_SIGNED,
    REPORT_SUBMITTED,
    AlertNotice,
    Report,
    Reporting,
    ResultEvent,
    TemplateField,
    plain,
)
from core_server.ris import Exam, NotFound, Ris

log = logging.getLogger(__name__)

RESULTS = outbound.RESULTS
CRITICAL_VALUES = outbound.CRITICAL_VALUES
BATCH = 100  # outbox entries read and queued per transaction

# LOINC codes IHE and most HIS use for the two parts of an imaging report.
FINDINGS = "18782-3^Radiology Study observation^LN"
IMPRESSION = "19005-8^Radiology Imaging study [Impression]^LN"
CRITICAL = ("CRITVAL", "危急值 Critical value", "99PACS")

# What one outbox entry becomes: (destination, message, source, alert id or None), in order.
Queued = tuple[str, str, str, int | None]


@dataclass(frozen=True)
class Doctor:
    """Who interpreted the result (OBR-32): the user's ID and display name (陈主任)."""

    username: str
    name: str = ""


class ResultReporter:
    def __init__(
        self, engine: Engine, reporting: Reporting, ris: Ris, application: str, wake: Any = None
    ) -> None:
        self.engine = engine
        self.reporting = reporting
        self.ris = ris
        self.application = application
        self.wake = wake

    def subscribe(self, bus: Any) -> None:
        for topic in (
            REPORT_SUBMITTED,
            REPORT_SIGNED,
            CRITICAL_VALUE_RAISED,
            CRITICAL_VALUE_ESCALATED,
        ):
            bus.subscribe(topic, self)
        self.reporting.watchers.append(self.watch_deliveries)

    def __call__(self, topic: str, payload: dict[str, Any]) -> None:
        if self.wake is not None:
            self.wake()

    def catch_up(self) -> int:
        """Queue the messages of every result and critical value not yet read; how many
        outbox entries were read."""
        return self._drain(
            RESULTS, self.reporting.result_events, self._result_messages
        ) + self._drain(CRITICAL_VALUES, self.reporting.alert_notices, self._critical_messages)

    def _drain(
        self,
        cursor: str,
        read: Callable[[int, int], Sequence[ResultEvent | AlertNotice]],
        messages: Callable[[Any], list[Queued]],
    ) -> int:
        total = 0
        while True:
            after = cursors.position(self.engine, cursor)
            entries = read(after, BATCH)
            if not entries:
                return total
            queued = [m for entry in entries for m in self._safely(messages, entry)]
            with db.write(self.engine) as conn:
                if not cursors.advance(conn, cursor, after, entries[-1].event_id):
                    continue  # another process took these entries: read on from its cursor
                for destination, message, source, alert_id in queued:
                    job = outbound.enqueue(conn, destination, message, source=source)
                    if alert_id is not None:
                        self.reporting.record_alert_event(
                            alert_id,
                            "queued",
                            username="hl7",
                            detail=destination,
                            ref=str(job),
                            conn=conn,
                        )
            total += len(entries)

    @staticmethod
    def _safely(messages: Callable[[Any], list[Queued]], entry: Any) -> list[Queued]:
        try:
            return messages(entry)
        except Exception:
            # One entry that cannot be written must not hold up every later one.
            log.exception("HL7 results: %s not sent", entry)
            return []

    def _destinations(self, purpose: str) -> list[outbound.Destination]:
        return [
            d for d in outbound.list_destinations(self.engine) if d.enabled and d.serves(purpose)
        ]

    def _result_messages(self, event: ResultEvent) -> list[Queued]:
        if event.action == "submit" and event.amended:
            return []  # an amendment under review: the HIS keeps the signed result for now
        wanted = self._destinations(RESULTS)
        if not wanted:
            return []
        status = "P" if event.action == "submit" else ("C" if event.amended else "F")
        report = self.reporting.report(event.report_id)
        exam, placer_application = self._exam(report)
        if exam is None or not placer_application:
            return []
        version = self.reporting.version(report.id, event.version)
        structured: list[tuple[TemplateField, Any]] = []
        if report.template_id is not None and version.fields:
            spec = {f.id: f for f in self.reporting.template(report.template_id).fields}
            structured = [(spec[k], v) for k, v in version.fields.items() if k in spec]
        out: list[Queued] = []
        for destination in wanted:
            message = result_message(
                exam,
                report,
                status,
                version.findings,
                version.impression,
                self._doctor(event.username),
                destination,
                self.application,
                placer_application,
                structured,
            )
            source = REPORT_SUBMITTED if event.action == "submit" else REPORT_SIGNED
            out.append((destination.name, message, source, None))
        return out

    def _critical_messages(self, notice: AlertNotice) -> list[Queued]:
        wanted = self._destinations(CRITICAL_VALUES)
        if not wanted:
            return []
        alert = self.reporting.alert(notice.alert_id)
        report = self.reporting.report(alert.report_id)
        exam, placer_application = self._exam(report)
        if exam is None:
            return []
        return [
            (
                destination.name,
                critical_message(
                    exam,
                    report,
                    alert.id,
                    alert.description,
                    notice.level,
                    self._doctor(alert.raised_by),
                    destination,
                    self.application,
                    placer_application,
                ),
                CRITICAL_VALUE_RAISED if notice.kind == "raised" else CRITICAL_VALUE_ESCALATED,
                alert.id,
            )
            for destination in wanted
        ]

    def watch_deliveries(self) -> None:
        """Record in each alert's chain what became of its queued messages."""
        for alert_id, ref in self.reporting.undelivered():
            try:
                job = outbound.get_job(self.engine, int(ref))
            except (outbound.OutboundError, ValueError):
                continue
            if job.status == "sent":
                self.reporting.record_alert_event(
                    alert_id,
                    "delivered",
                    username="hl7",
                    detail=f"{job.destination} ACK {job.ack_code} "
                    f"{job.sent_at.isoformat() if job.sent_at else ''}".strip(),
                    ref=ref,
                )
            elif job.status == "dead":
                self.reporting.record_alert_event(
                    alert_id,
                    "failed",
                    username="hl7",
                    detail=f"{job.destination}: {job.last_error}",
                    ref=ref,
                )

    def _exam(self, report: Report) -> tuple[Exam | None, str]:
        try:
            exam = self.ris.exam(report.exam_id)
            order = self.ris.order(filler_order_number=exam.filler_order_number)
        except NotFound:
            log.warning("HL7 results: exam %s of report %s is gone", report.exam_id, report.id)
            return None, ""
        return exam, order.placer_application

    def _doctor(self, username: str) -> Doctor:
        user = auth.get_user(self.engine, username) if username else None
        return Doctor(username, user.display_name if user is not None else "")


def _text(text: str, destination: outbound.Destination) -> str:
    """Escaped text when the destination's character set can carry it, else empty."""
    return people.text(text, destination.codec)


def _lines(html: str, destination: outbound.Destination) -> str:
    """Report text as repetitions of OBX-5 (one per line, the usual way for TX)."""
    return "~".join(_text(line, destination) for line in plain(html).split("\n"))


def _header(
    exam: Exam,
    destination: outbound.Destination,
    application: str,
    placer_application: str,
    status: str,
    when: str,
    interpreter: Doctor,
) -> list[str]:
    codec = destination.codec
    names = people.xpn(people.person(exam.patient_name, exam.patient_name_pinyin), codec)
    placer = escape(exam.placer_order_number)
    if placer_application:
        placer += f"^{escape(placer_application)}"
    filler = escape(exam.filler_order_number)
    service = f"{escape(exam.procedure_code)}^{_text(exam.procedure_name, destination)}^L"
    obr = [
        "OBR",
        "1",
        placer,
        filler,
        service,
        "",
        "",
        timestamp(exam.scheduled_at) if exam.scheduled_at else "",  # OBR-7
        *[""] * 10,
        escape(exam.accession_number),  # OBR-18
        escape(exam.requested_procedure_id),  # OBR-19
        escape(exam.scheduled_step_id),  # OBR-20
        "",
        when,  # OBR-22 results report / status change
        "",
        escape(exam.modality),  # OBR-24 diagnostic service section
        status,  # OBR-25 result status: P, F, C
        *[""] * 6,
        # OBR-32 principal result interpreter: ID&family&given (NDL's first component, a CNN)
        people.ndl(interpreter.username, interpreter.name, codec),
    ]
    return [
        f"MSH|^~\\&|{escape(application)}||||{when}||ORU^R01^ORU_R01||P|2.5",
        f"PID|1||{escape(exam.patient_id)}^^^{escape(exam.issuer)}||{names}",
        f"ORC|RE|{placer}|{filler}||CM",
        "|".join(obr),
    ]


def result_message(
    exam: Exam,
    report: Report,
    status: str,
    findings: str,
    impression: str,
    interpreter: Doctor,
    destination: outbound.Destination,
    application: str,
    placer_application: str = "",
    structured: list[tuple[TemplateField, Any]] | None = None,
) -> str:
    """The ORU^R01 carrying a report version: findings and impression as TX observations,
    then each answered field of a structured template (numbers as NM with their unit, dates
    as DT, text and choices as ST; OBX-3 ``<field id>^<label>^99PACS``)."""
    when = timestamp()
    segments = _header(
        exam, destination, application, placer_application, status, when, interpreter
    )
    flag = "A" if report.positive else ("N" if report.positive is False else "")
    segments += [
        f"OBX|1|TX|{FINDINGS}||{_lines(findings, destination)}||||||{status}",
        f"OBX|2|TX|{IMPRESSION}||{_lines(impression, destination)}|||{flag}|||{status}",
    ]
    for number, (spec, answer) in enumerate(structured or [], start=3):
        kind = {"number": "NM", "date": "DT"}.get(spec.type, "ST")
        value = str(answer).replace("-", "") if kind == "DT" else str(answer)
        if kind == "NM" and isinstance(answer, float) and answer.is_integer():
            value = str(int(answer))
        code = f"{escape(spec.id)}^{_text(spec.label, destination)}^99PACS"
        unit = _text(spec.unit, destination)
        segments.append(
            f"OBX|{number}|{kind}|{code}||{_text(value, destination)}|{unit}|||||{status}"
        )
    segments.append(f"ZDS|{escape(exam.study_instance_uid)}^^Application^DICOM")
    return "\r".join(segments) + "\r"


def critical_message(
    exam: Exam,
    report: Report,
    alert_id: int,
    description: str,
    level: int,
    raised_by: Doctor,
    destination: outbound.Destination,
    application: str,
    placer_application: str = "",
) -> str:
    """The critical value as an ORU^R01: OBX flagged ``AA``, NTE with the alert and level."""
    code, name, system = CRITICAL
    when = timestamp()
    status = "F" if report.signed_version else "P"
    segments = _header(exam, destination, application, placer_application, status, when, raised_by)
    segments += [
        f"OBX|1|TX|{code}^{_text(name, destination) or 'Critical value'}^{system}||"
        f"{_text(description, destination)}|||AA|||{status}",
        f"NTE|1|L|critical value alert {alert_id}; escalation {level}",
    ]
    return "\r".join(segments) + "\r"
