"""The quality-control tables: the reasons a grade may give (an administrator's list), every
image grade given with its reasons (the history; the current grade is also kept on the
report, ``reporting_reports.image_quality``, which the editor and technician pages show), and
the exams sent back for a retake (the report of the exam waits while ``done_at`` is empty)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table, Text

from core_server.db import BigId, UtcDateTime, metadata

quality_reasons = Table(
    "quality_reasons",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name_zh", String(64), nullable=False),
    Column("name_en", String(64), nullable=False, server_default=""),
    Column("active", Boolean, nullable=False),
    Column("position", Integer, nullable=False, server_default="0"),
)

quality_image_grades = Table(
    "quality_image_grades",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    # Exams are referred to by id (the RIS's), read through the RIS service.
    Column("exam_id", BigId, nullable=False),
    Column("grade", String(12), nullable=False),
    Column("reasons", Text, nullable=False, server_default="[]"),  # JSON list of codes
    Column("note", Text, nullable=False, server_default=""),
    Column("graded_by", String(64), nullable=False),
    Column("role", String(32), nullable=False, server_default=""),
    Column("graded_at", UtcDateTime(), nullable=False),
    Index("ix_quality_image_grades_exam", "exam_id"),
)

quality_retakes = Table(
    "quality_retakes",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("exam_id", BigId, nullable=False),
    Column("retake_exam_id", BigId, nullable=False),
    Column("retake_accession", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("reasons", Text, nullable=False, server_default="[]"),
    Column("note", Text, nullable=False, server_default=""),
    Column("sent_by", String(64), nullable=False),
    Column("sent_at", UtcDateTime(), nullable=False),
    Column("done_at", UtcDateTime(), nullable=True),
    Column("done_status", String(16), nullable=False, server_default=""),
    Index("ix_quality_retakes_exam", "exam_id"),
    Index("ix_quality_retakes_retake", "retake_exam_id"),
)
