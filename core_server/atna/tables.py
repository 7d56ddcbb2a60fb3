"""The ATNA sender's one table: how far along the audit trail it has sent.

A cursor over ``audit_events.id`` rather than a copy of every event in a job table: the audit
trail is already durable and append-only, so the sender needs only to remember the last event
the repository took. One row per destination (``host:port/transport``), so pointing the core
at a new repository starts that one from the beginning of the trail kept.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, String, Table

from core_server.db import UtcDateTime, metadata

atna_cursors = Table(
    "atna_cursors",
    metadata,
    Column("destination", String(255), primary_key=True),
    Column("last_id", BigInteger().with_variant(Integer(), "sqlite"), nullable=False),
    Column("sent", BigInteger().with_variant(Integer(), "sqlite"), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)
