"""Printing tables (migration ``0103_film_printing``): the department's laser imagers, film
print jobs (durable jobs, :mod:`core_server.jobs`), the auto-forward cursor over
``film_sheets`` and the exams marked "cloud film only" at the desk."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table, Text

from core_server.db import BigId, UtcDateTime, metadata
from core_server.jobs import job_columns

film_printers = Table(
    "film_printers",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("ae_title", String(16), nullable=False),
    Column("host", String(255), nullable=False),
    Column("port", Integer, nullable=False),
    Column("color", Boolean, nullable=False, server_default="0"),
    Column("film_sizes", Text, nullable=False, server_default=""),  # comma separated
    Column("media", Text, nullable=False, server_default=""),  # comma separated
    Column("default_film_size", String(16), nullable=False),
    Column("default_medium", String(16), nullable=False),
    Column("default_destination", String(16), nullable=False),
    Column("default_priority", String(8), nullable=False),
    Column("modalities", Text, nullable=False, server_default=""),  # comma separated; "" all
    Column("departments", Text, nullable=False, server_default=""),
    Column("auto_forward", Boolean, nullable=False, server_default="0"),
    Column("skip_cloud_film", Boolean, nullable=False, server_default="0"),
    Column("active", Boolean, nullable=False, server_default="1"),
    # What the printer last said (N-GET, N-EVENT-REPORT) and when.
    Column("status", String(16), nullable=False, server_default=""),
    Column("status_info", String(64), nullable=False, server_default=""),
    Column("status_at", UtcDateTime, nullable=True),
    Column("events", Text, nullable=False, server_default="[]"),  # JSON, newest last
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# pending -> running (claimed) -> printed | dead (out of tries) | cancelled
film_print_jobs = Table(
    "film_print_jobs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("printer_id", BigId, nullable=False),
    Column("copies", Integer, nullable=False),
    Column("kind", String(12), nullable=False),  # "sheets" or "composition"
    Column("sheet_ids", Text, nullable=False, server_default="[]"),  # JSON film_sheets ids
    Column("composition", Text, nullable=False, server_default=""),  # JSON, for "composition"
    Column("forwarded_sheet", BigId, nullable=True, unique=True),  # auto-forward: once a sheet
    Column("study_instance_uid", String(64), nullable=False, server_default=""),
    Column("requested_by", String(64), nullable=False, server_default=""),
    Column("reason", String(64), nullable=False, server_default=""),  # the printer's reason
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("printed_at", UtcDateTime, nullable=True),
    *job_columns(),
    Index("ix_film_print_jobs_due", "status", "next_attempt_at"),
)

film_print_cursor = Table(
    "film_print_cursor",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("last_id", BigId, nullable=False, server_default="0"),
)

film_cloud_only = Table(
    "film_cloud_only",
    metadata,
    Column("exam_id", BigId, primary_key=True, autoincrement=False),
    Column("set_by", String(64), nullable=False),
    Column("set_at", UtcDateTime, nullable=False),
)
