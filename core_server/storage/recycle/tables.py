"""The recycle bin's own configuration (the bin's entries and rows are the archive's, in
:mod:`core_server.archive.recycle`)."""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table

from core_server.db import UtcDateTime, metadata

# One row (id 1) once an admin has saved it; none means the defaults.
recycle_settings = Table(
    "recycle_settings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("keep_days", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False, server_default=""),
)
