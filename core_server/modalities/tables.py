"""Registered DICOM peers (modalities, workstations, other archives)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Integer, String, Table, false, true

from core_server.db import UtcDateTime, metadata

modalities = Table(
    "modalities",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ae_title", String(16), nullable=False, unique=True),
    Column("host", String(255), nullable=False),
    Column("port", Integer, nullable=False),
    Column("description", String(255), nullable=False, server_default=""),
    Column("allow_store", Boolean, nullable=False, server_default=true()),
    Column("allow_query", Boolean, nullable=False, server_default=true()),
    Column("allow_retrieve", Boolean, nullable=False, server_default=true()),
    # The device shows only ASCII: its worklist gets the pinyin name alone (0008).
    Column("ascii_only", Boolean, nullable=False, server_default=false()),
    # May replace a stored object under its SOP Instance UID by a different one (0013).
    Column("allow_overwrite", Boolean, nullable=False, server_default=false()),
    # Our associations to it (C-MOVE, commitment reports) go over DICOM TLS (0019).
    Column("tls", Boolean, nullable=False, server_default=false()),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
