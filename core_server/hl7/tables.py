"""The HL7 adapter's tables: the inbound message log, destinations and the outbound queue."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)

from core_server.db import BigId, UtcDateTime, metadata

# Every message received, stored before it is acknowledged, with the ACK that went back: a
# resent message (same sender and control ID) is answered with that ACK, not applied again.
hl7_inbound_messages = Table(
    "hl7_inbound_messages",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("received_at", UtcDateTime, nullable=False, index=True),
    Column("peer", String(64), nullable=False, server_default=""),
    Column("sending_application", String(180), nullable=False, server_default=""),
    Column("sending_facility", String(180), nullable=False, server_default=""),
    # NULL when the message is too broken to name one (NULLs never collide in the unique key).
    Column("control_id", String(64), nullable=True),
    Column("message_type", String(16), nullable=False, server_default="", index=True),
    Column("charset", String(32), nullable=False, server_default=""),
    Column("raw", LargeBinary, nullable=False),  # the bytes as received, between the MLLP marks
    Column("text", Text, nullable=True),  # decoded, when it could be
    # processing (claimed: processed_at is when) -> accepted (AA) | error (AE) | rejected (AR)
    # | failed (internal error, no ACK kept: a resend is applied afresh)
    Column("status", String(12), nullable=False, server_default="received", index=True),
    Column("ack_code", String(2), nullable=True),
    Column("ack", Text, nullable=True),
    Column("error", Text, nullable=False, server_default=""),
    Column("processed_at", UtcDateTime, nullable=True),
    # The process applying it (core_server.jobs.owners): a restarted core releases the claims
    # of its dead predecessor at start instead of answering "being processed" until the lease
    # runs out.
    Column("claimed_by", String(64), nullable=True),
    Column("duplicates", Integer, nullable=False, server_default="0"),
    UniqueConstraint(
        "sending_application",
        "sending_facility",
        "control_id",
        name="uq_hl7_inbound_sender_control_id",
    ),
)

# Who may send to the MLLP listener (migration 0020): a message is taken when one entry
# matches all it names (an empty field matches anything): the peer's address (an IP or a
# network such as 10.1.0.0/16), MSH-3 and MSH-4. With no entry at all only loopback peers are
# taken (a fresh install can be tried on the machine itself); others are refused with AR.
hl7_allowed_senders = Table(
    "hl7_allowed_senders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("address", String(64), nullable=False, server_default=""),
    Column("sending_application", String(180), nullable=False, server_default=""),
    Column("sending_facility", String(180), nullable=False, server_default=""),
    Column("note", String(255), nullable=False, server_default=""),
    Column("created_by", String(64), nullable=False, server_default=""),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint(
        "address",
        "sending_application",
        "sending_facility",
        name="uq_hl7_allowed_senders_address_application_facility",
    ),
)

# Where outbound messages go: a HIS (or any HL7 receiver) and how to talk to it.
hl7_destinations = Table(
    "hl7_destinations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("host", String(255), nullable=False),
    Column("port", Integer, nullable=False),
    Column("receiving_application", String(180), nullable=False, server_default=""),
    Column("receiving_facility", String(180), nullable=False, server_default=""),
    Column("charset", String(32), nullable=False, server_default="UNICODE UTF-8"),  # MSH-18
    # What it wants: comma-separated purposes ("order_status", "results", ...).
    Column("purposes", String(255), nullable=False, server_default="order_status"),
    Column("status_message", String(8), nullable=False, server_default="ORM"),  # ORM or OMI
    Column("max_attempts", Integer, nullable=False, server_default="10"),
    Column("retry_base_seconds", Float, nullable=False, server_default="5"),
    Column("retry_max_seconds", Float, nullable=False, server_default="600"),
    Column("ack_timeout_seconds", Float, nullable=False, server_default="30"),
    Column("enabled", Boolean, nullable=False, server_default=true()),
    # MLLP over TLS, its certificate checked against tls_ca (0029).
    Column("tls", Boolean, nullable=False, server_default=false()),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# The durable outbound queue: one row per message to send, with the job columns of
# core_server.jobs (status, attempts, next_attempt_at, claimed_by/until, last_error). A sender
# claims a due job with a conditional UPDATE (status and lease checked in the WHERE clause), so
# several core processes never send one job twice.
hl7_outbound_jobs = Table(
    "hl7_outbound_jobs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "destination_fk",
        Integer,
        ForeignKey("hl7_destinations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("message_type", String(16), nullable=False, server_default=""),
    Column("control_id", String(64), nullable=False),
    Column("message", Text, nullable=False),
    Column("source", String(64), nullable=False, server_default=""),  # what asked for it
    # pending -> sending -> sent | pending (retry) | dead
    Column("status", String(12), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("claimed_by", String(64), nullable=True),
    Column("claimed_until", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=False, server_default=""),
    Column("ack_code", String(2), nullable=True),
    Column("ack", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False, index=True),
    Column("sent_at", UtcDateTime, nullable=True),
    Index(None, "status", "next_attempt_at"),
)

# How far each outbox reader has read the RIS's status changes (ris.status_changes): the
# reporter queues the messages of changes after ``last_change_id`` and moves it in the same
# transaction, with a conditional UPDATE (``WHERE last_change_id = <what it read>``) so that of
# several core processes only one queues a change.
hl7_status_cursor = Table(
    "hl7_status_cursor",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("last_change_id", BigInteger, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
