"""The capture domain's tables (migration ``0110_capture``): endoscopes, their disinfection
cycles, which scope an exam used, and each exam's pathology request.

Exams are referred to by their RIS id (no foreign key: the RIS is another domain)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from core_server.db import BigId, UtcDateTime, metadata

capture_scopes = Table(
    "capture_scopes",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("code", String(64), nullable=False, unique=True),  # the scope ID on its tag
    Column("serial", String(64), nullable=False, server_default=""),  # the maker's serial
    Column("model", String(64), nullable=False, server_default=""),
    Column("kind", String(32), nullable=False, server_default=""),  # gastroscope, colonoscope...
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("created_at", UtcDateTime, nullable=False),
)
Index("ix_capture_scopes_serial", capture_scopes.c.serial)

capture_disinfections = Table(
    "capture_disinfections",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("scope_id", BigId, ForeignKey("capture_scopes.id", ondelete="CASCADE"), nullable=False),
    Column("washer", String(64), nullable=False, server_default=""),
    Column("cycle", String(32), nullable=False, server_default=""),
    Column("started_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime, nullable=True),
    Column("operator", String(64), nullable=False, server_default=""),
    Column("result", String(8), nullable=False),  # passed | failed
    Column("recorded_by", String(64), nullable=False, server_default=""),
    Column("recorded_at", UtcDateTime, nullable=False),
)
Index(
    "ix_capture_disinfections_scope",
    capture_disinfections.c.scope_id,
    capture_disinfections.c.started_at,
)
Index("ix_capture_disinfections_started", capture_disinfections.c.started_at)

capture_exam_scopes = Table(
    "capture_exam_scopes",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("exam_id", BigId, nullable=False),
    Column("scope_id", BigId, ForeignKey("capture_scopes.id"), nullable=False),
    Column("disinfection_id", BigId, nullable=True),  # the scope's last cycle at that moment
    Column("warning", String(64), nullable=True),
    Column("recorded_by", String(64), nullable=False, server_default=""),
    Column("recorded_at", UtcDateTime, nullable=False),
)
Index("ix_capture_exam_scopes_exam", capture_exam_scopes.c.exam_id)

capture_pathology = Table(
    "capture_pathology",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("exam_id", BigId, nullable=False, unique=True),
    Column("request_number", String(32), nullable=False, unique=True),
    Column("sites", Text, nullable=False),  # JSON [{"site": ..., "specimens": n}]
    Column("specimens", Integer, nullable=False),
    Column("clinical_info", Text, nullable=False, server_default=""),
    Column("requested_by", String(64), nullable=False, server_default=""),
    Column("recorded_by", String(64), nullable=False, server_default=""),
    Column("recorded_at", UtcDateTime, nullable=False),
)
