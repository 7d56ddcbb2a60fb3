"""HL7 v2 adapter: the MLLP listener, the durable outbound queue and message mapping.

:class:`Hl7Service` is what the core process builds: inbound messages (ADT, ORM, OMI) are
stored, applied to the RIS and acknowledged; exam status changes of the RIS go out as order
status messages through the outbound queue. Anything else that must reach the HIS (reports,
ORU^R01, critical values) is read from its domain's outbox by cursor and queued with
:func:`enqueue` ("send this message to that destination").
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine

from core_server.events import EventBus
from core_server.followup import Followup
from core_server.hl7.charsets import MSH18_NAMES
from core_server.hl7.housekeeping import Housekeeping, ticker
from core_server.hl7.inbound import (
    Apply,
    InboundMessage,
    Receiver,
    get_message,
    list_messages,
)
from core_server.hl7.listener import MllpListener
from core_server.hl7.mapping import Mapping
from core_server.hl7.outbound import (
    CRITICAL_VALUES,
    ORDER_STATUS,
    PURPOSES,
    RESULTS,
    Destination,
    Job,
    OutboundError,
    add_destination,
    count_jobs,
    enqueue,
    get_destination,
    get_job,
    list_destinations,
    list_jobs,
    remove_destination,
    retry,
    update_destination,
)
from core_server.hl7.pathology import PathologyResults
from core_server.hl7.reporting import ResultReporter
from core_server.hl7.sender import Sender
from core_server.hl7.senders import (
    AllowedSender,
    SenderError,
    add_sender,
    list_senders,
    remove_sender,
)
from core_server.hl7.status import StatusReporter
from core_server.reporting import Reporting
from core_server.ris import Ris
from core_server.tls import Files


class Hl7Service:
    """The listener on ``host:port``, the sender, and the status subscriber, started and
    stopped with the core process."""

    # What a destination may be sent, and the MSH-18 character sets it may be sent in (read
    # by the web adapter's page, which does not import this one).
    purposes = PURPOSES
    charsets = tuple(MSH18_NAMES.values())

    def __init__(
        self,
        engine: Engine,
        ris: Ris,
        bus: EventBus,
        *,
        host: str,
        port: int,
        application: str,
        poll_seconds: float = 1.0,
        reporting: Reporting | None = None,
        processing_ids: Iterable[str] = ("P",),
        retention_days: float = 0,
        followup: Followup | None = None,
        tls: ssl.SSLContext | None = None,
        tls_port: int = 2576,
        cleartext: bool = True,
        tls_files: Files | None = None,
    ) -> None:
        self.engine = engine
        # Pathology results (ORU^R01) for the follow-up domain, when the core has one.
        more: dict[tuple[str, str], Apply] = {}
        if followup is not None:
            more[("ORU", "R01")] = PathologyResults(followup).apply
        self.receiver = Receiver(engine, Mapping(ris, more), application, processing_ids)
        self.listener = MllpListener(self.receiver, host, port)
        # MLLP over TLS (docs/tls.md) on its own port; cleartext off: that port only.
        self.tls_listener = (
            None if tls is None else MllpListener(self.receiver, host, tls_port, tls)
        )
        self.listeners = [self.listener] if cleartext or tls is None else []
        self.listeners += [self.tls_listener] if self.tls_listener is not None else []
        # Status changes: the RIS's history read by cursor before each round of the sender
        # (at start-up too); the bus event only wakes the sender.
        self.reporter = StatusReporter(engine, ris, application)
        self.housekeeping = Housekeeping(engine, retention_days)
        self.housekeeper = ticker(self.housekeeping)
        self.sender = Sender(
            engine, poll_seconds, feeders=[self.reporter.catch_up], tls_files=tls_files
        )
        self.reporter.wake = self.sender.wake
        self.reporter.subscribe(bus)
        # Reports (ORU^R01) and critical values, when the core has a reporting domain: read
        # from its outboxes by cursor before each round, like the status changes.
        self.results: ResultReporter | None = None
        if reporting is not None:
            self.results = ResultReporter(
                engine, reporting, ris, application, wake=self.sender.wake
            )
            self.results.subscribe(bus)
            self.sender.feeders.insert(1, self.results.catch_up)

    @property
    def running(self) -> bool:
        return all(listener.running for listener in self.listeners) and self.sender.running

    @property
    def port(self) -> int:
        return self.listener.port

    def start(self) -> None:
        # What a crashed predecessor held is released first: the HIS's resend of a message it
        # was applying is applied, not told "being processed" until the lease runs out.
        self.receiver.release_gone()
        for listener in self.listeners:
            listener.start()
        self.sender.start()
        self.housekeeper.start()

    def stop(self) -> None:
        self.housekeeper.stop()
        self.sender.stop()
        for listener in self.listeners:
            listener.stop()

    def enqueue(self, destination: str, message: str, *, source: str = "") -> int:
        """Queue a message for a destination and wake the sender."""
        job_id = enqueue(self.engine, destination, message, source=source)
        self.sender.wake()
        return job_id

    # -- administration (the web adapter's HL7 routes call these) -----------------------------

    def messages(self, **filters: Any) -> list[InboundMessage]:
        return list_messages(self.engine, **filters)

    def message(self, message_id: int) -> InboundMessage | None:
        return get_message(self.engine, message_id)

    def reprocess(self, message_id: int) -> str | None:
        return self.receiver.reprocess(message_id)

    def jobs(self, **filters: Any) -> list[Job]:
        return list_jobs(self.engine, **filters)

    def job_counts(self) -> dict[str, int]:
        return count_jobs(self.engine)

    def job(self, job_id: int) -> Job:
        return get_job(self.engine, job_id)

    def retry(self, job_id: int) -> Job:
        job = retry(self.engine, job_id)
        self.sender.wake()
        return job

    def destinations(self) -> list[Destination]:
        return list_destinations(self.engine)

    def destination(self, name: str) -> Destination:
        return get_destination(self.engine, name)

    def add_destination(self, **values: Any) -> Destination:
        return add_destination(self.engine, Destination(**values))

    def update_destination(self, name: str, **changes: Any) -> Destination:
        changed = update_destination(self.engine, name, **changes)
        self.sender.wake()
        return changed

    def remove_destination(self, name: str) -> None:
        remove_destination(self.engine, name)

    def allowed_senders(self) -> list[AllowedSender]:
        return list_senders(self.engine)

    def allow_sender(self, **values: Any) -> AllowedSender:
        return add_sender(self.engine, **values)

    def forbid_sender(self, sender_id: int) -> AllowedSender:
        return remove_sender(self.engine, sender_id)


__all__ = [
    "CRITICAL_VALUES",
    "ORDER_STATUS",
    "PURPOSES",
    "RESULTS",
    "AllowedSender",
    "Destination",
    "Hl7Service",
    "InboundMessage",
    "Job",
    "OutboundError",
    "SenderError",
    "add_destination",
    "count_jobs",
    "enqueue",
    "get_destination",
    "get_job",
    "list_destinations",
    "list_jobs",
    "remove_destination",
    "retry",
    "update_destination",
]
