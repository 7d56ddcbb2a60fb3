"""The compression part's tables: the admin-edited rules and the durable jobs that carry them
out (one row per instance to recompress). The replacement journal of
:mod:`core_server.archive.recompress` (``compression_replacements``) is made by the same
migration."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Index, Integer, String, Table, true

from core_server.archive import recompress  # noqa: F401  (its journal table on the metadata)
from core_server.db import BigId, Key, UtcDateTime, metadata
from core_server.jobs import job_columns

compression_rules = Table(
    "compression_rules",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("enabled", Boolean, nullable=False, server_default=true()),
    Column("position", Integer, nullable=False, server_default="0"),  # lower first
    # Conditions (empty: any): modalities "CT,MR", one SOP class, one source AE title, and
    # for on_schedule an age in days since the object was received.
    Column("modalities", String(128), nullable=False, server_default=""),
    Column("sop_class_uid", String(64), nullable=False, server_default=""),
    Column("source_ae_title", String(16), nullable=False, server_default=""),
    Column("min_age_days", Integer, nullable=False, server_default="0"),
    Column("trigger", String(12), nullable=False),  # on_ingest, on_schedule
    Column("transfer_syntax_uid", String(64), nullable=False),
    Column("ratio", Float, nullable=True),  # lossy JPEG 2000 only
    # The rule has looked at every instance up to this id (its scan's cursor, see service).
    Column("scanned_to_id", BigId, nullable=False, server_default="0"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False, server_default=""),
)

compression_jobs = Table(
    "compression_jobs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("sop_instance_uid", Key(64), nullable=False),
    Column("rule_id", BigId, nullable=True),  # None: asked by hand (the CLI)
    Column("transfer_syntax_uid", String(64), nullable=False),
    Column("ratio", Float, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
    Column("old_size", BigId, nullable=True),
    Column("new_size", BigId, nullable=True),
    Column("outcome", String(64), nullable=False, server_default=""),  # why left alone, if so
    *job_columns(),
    Index(None, "status", "next_attempt_at"),
    Index(None, "sop_instance_uid"),
)
