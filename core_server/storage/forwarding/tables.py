"""Forwarding's tables: destinations, rules, and the durable task queue (one task per
destination and instance, with :func:`core_server.jobs.job_columns`)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    false,
    true,
)

from core_server.db import UtcDateTime, metadata
from core_server.jobs import job_columns

_ID = BigInteger().with_variant(Integer(), "sqlite")

forwarding_destinations = Table(
    "forwarding_destinations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("kind", String(8), nullable=False),  # dicom | stow
    # DICOM: the peer's AE title, address, TLS (empty host: the registered modality's).
    Column("ae_title", String(16), nullable=False, server_default=""),
    Column("host", String(255), nullable=False, server_default=""),
    Column("port", Integer, nullable=False, server_default="0"),
    Column("tls", Boolean, nullable=False, server_default=false()),
    # STOW-RS: the studies URL, its authentication and the CA bundle that checks it.
    Column("url", String(1024), nullable=False, server_default=""),
    Column("auth", String(8), nullable=False, server_default="none"),  # none|bearer|basic
    Column("token", Text, nullable=False, server_default=""),
    Column("username", String(128), nullable=False, server_default=""),
    Column("password", Text, nullable=False, server_default=""),
    Column("ca_file", String(1024), nullable=False, server_default=""),
    Column("commitment", Boolean, nullable=False, server_default=false()),
    Column("enabled", Boolean, nullable=False, server_default=true()),
    Column("created_at", UtcDateTime, nullable=False),
)

forwarding_rules = Table(
    "forwarding_rules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("destination_id", Integer, ForeignKey("forwarding_destinations.id"), nullable=False),
    Column("enabled", Boolean, nullable=False, server_default=true()),
    Column("on_new", Boolean, nullable=False, server_default=true()),
    Column("on_changed", Boolean, nullable=False, server_default=true()),
    # Conditions; empty matches everything. Patterns are shell-style (``*头颅*``).
    Column("modality", String(16), nullable=False, server_default=""),
    Column("source_ae", String(16), nullable=False, server_default=""),
    Column("sop_class_uid", String(64), nullable=False, server_default=""),
    Column("study_description", String(128), nullable=False, server_default=""),
    Column("department", String(32), nullable=False, server_default=""),
    Column("created_at", UtcDateTime, nullable=False),
)

forwarding_tasks = Table(
    "forwarding_tasks",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("destination_id", Integer, ForeignKey("forwarding_destinations.id"), nullable=False),
    Column("rule_id", Integer, nullable=True),
    Column("sop_instance_uid", String(64), nullable=False),
    Column("sop_class_uid", String(64), nullable=False, server_default=""),
    Column("study_instance_uid", String(64), nullable=False, server_default=""),
    Column("reason", String(8), nullable=False, server_default="new"),  # new|changed|rule
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    Column("committed_at", UtcDateTime, nullable=True),
    Column("transaction_uid", String(64), nullable=False, server_default=""),
    *job_columns(),
    Index("ix_forwarding_tasks_due", "status", "next_attempt_at"),
    Index("ix_forwarding_tasks_destination", "destination_id", "status", "study_instance_uid"),
    Index("ix_forwarding_tasks_sop", "sop_instance_uid"),
)

# A commitment report no task could take yet: its batch was still being recorded, maybe by
# another process (a DICOM worker or another node took the report's association). The batch
# takes it when it is recorded.
forwarding_reports = Table(
    "forwarding_reports",
    metadata,
    Column("transaction_uid", String(64), primary_key=True),
    Column("committed", JSON, nullable=False),
    Column("failed", JSON, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
)
