"""Report output tables (migration ``0010_report_output``): archived DICOM objects of signed
reports (a durable job per signed version and kind), the print log and reprint grants.

Reports are referred to by id without a foreign key so this branch migrates on its own."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from core_server.db import BigId, UtcDateTime, metadata

# One row per signed version and kind ("sr", "pdf"; "ko" when the report has key images):
# written when the signature is seen, its UIDs fixed then, so a retry stores the same object
# again (idempotent in the archive).
report_output_objects = Table(
    "report_output_objects",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("report_id", BigId, nullable=False),
    Column("version", Integer, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("study_instance_uid", String(64), nullable=False),
    Column("series_instance_uid", String(64), nullable=False),
    Column("sop_instance_uid", String(64), nullable=False, unique=True),
    # pending -> running (claimed: core_server.jobs) -> stored | skipped (no key image)
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=False, server_default=""),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("stored_at", UtcDateTime, nullable=True),
    Column("claimed_by", String(64), nullable=True),  # migration 0021
    Column("claimed_until", UtcDateTime, nullable=True),
    UniqueConstraint("report_id", "version", "kind"),
    Index("ix_report_output_objects_due", "status", "next_attempt_at"),
)

# Every print of a report: who, when, which signed version, how many copies, first or reprint.
report_print_log = Table(
    "report_print_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("report_id", BigId, nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("accession_number", String(64), nullable=False, server_default=""),
    Column("username", String(64), nullable=False),
    Column("printed_at", UtcDateTime, nullable=False),
    Column("copies", Integer, nullable=False),
    Column("reprint", Boolean, nullable=False, server_default=false()),
    Column("reason", Text, nullable=False, server_default=""),
    Column("address", String(64), nullable=False, server_default=""),
)

# Users (besides administrators) allowed to reprint a report that was already printed.
report_reprint_grants = Table(
    "report_reprint_grants",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("granted_by", String(64), nullable=False),
    Column("granted_at", UtcDateTime, nullable=False),
    Column("note", String(255), nullable=False, server_default=""),
)
