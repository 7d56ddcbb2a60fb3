"""The tables of the release right and the cloud film (issue 12).

- ``disc_release_holds``: an exam that may not be released (no disc, no cloud film) has a row,
  with who set it, when and why; clearing the hold deletes the row (the audit trail keeps the
  history). Its own table rather than columns on ``ris_exams``: the discs domain owns it.
- ``disc_cloud_keys``: the one HMAC key cloud-film tokens are signed with, in the database so
  that every core process (issue 16) checks tokens alike; made on first use.
- ``disc_cloud_links``: each issued link (what it shows, until when, revoked by whom).
- ``disc_cloud_checks``: each answer to a link's check question (the brake on guessing reads
  them) and ``disc_cloud_passes``: the browser sessions a right answer opened.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from core_server.db import BigId, UtcDateTime, metadata

disc_release_holds = Table(
    "disc_release_holds",
    metadata,
    Column("exam_id", BigId, primary_key=True, autoincrement=False),
    Column("reason", Text, nullable=False),
    Column("set_by", String(64), nullable=False),
    Column("set_at", UtcDateTime, nullable=False),
)

disc_cloud_keys = Table(
    "disc_cloud_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("secret", String(64), nullable=False),  # hex of 32 random bytes
    Column("created_at", UtcDateTime, nullable=False),
)

disc_cloud_links = Table(
    "disc_cloud_links",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("job_id", BigId, nullable=True),  # the disc job it was printed for, if any
    Column("patient_id", String(64), nullable=False),
    Column("exam_ids", Text, nullable=False),  # JSON list of RIS exam ids
    Column("created_by", String(64), nullable=False, server_default=""),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("revoked_by", String(64), nullable=False, server_default=""),
    Index("ix_disc_cloud_links_created", "created_at"),
)

disc_cloud_checks = Table(
    "disc_cloud_checks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("link_id", BigId, ForeignKey("disc_cloud_links.id"), nullable=False),
    Column("address", String(64), nullable=False, server_default=""),
    Column("ok", Boolean, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_disc_cloud_checks_link_at", "link_id", "at"),
)

disc_cloud_passes = Table(
    "disc_cloud_passes",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("link_id", BigId, ForeignKey("disc_cloud_links.id"), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),  # SHA-256 hex of the cookie
    Column("expires_at", UtcDateTime, nullable=False),
)
