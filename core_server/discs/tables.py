"""The disc-job tables (migration ``0095_discs_jobs``).

Exams are referred to by their RIS id (no foreign key: the RIS is another domain). A job's
steps are kept apart, one row each, so the desk page shows what happened and when."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text

from core_server.db import BigId, UtcDateTime, metadata

disc_jobs = Table(
    "disc_jobs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("state", String(12), nullable=False, server_default="queued"),
    Column("exam_ids", Text, nullable=False),  # JSON list of RIS exam ids
    Column("accession_numbers", Text, nullable=False, server_default=""),  # comma-separated
    Column("patient_id", String(64), nullable=False, server_default=""),
    Column("copies", Integer, nullable=False, server_default="1"),
    Column("device", String(48), nullable=True),  # the kiosk it is for (None: any kiosk)
    Column("requested_by", String(64), nullable=False, server_default=""),
    Column("holder", String(48), nullable=True),  # the kiosk that claimed it
    Column("lease_until", UtcDateTime, nullable=True),
    Column("interruptions", Integer, nullable=False, server_default="0"),
    Column("discs_done", Integer, nullable=False, server_default="0"),
    Column("discs_total", Integer, nullable=False, server_default="0"),
    Column("fee_per_disc_fen", Integer, nullable=False, server_default="0"),
    Column("fee_fen", Integer, nullable=False, server_default="0"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
Index("ix_disc_jobs_state_device", disc_jobs.c.state, disc_jobs.c.device)

disc_job_steps = Table(
    "disc_job_steps",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("job_id", BigId, ForeignKey("disc_jobs.id", ondelete="CASCADE"), nullable=False),
    Column("state", String(12), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("message", Text, nullable=False, server_default=""),
    Column("reason", String(48), nullable=False, server_default=""),
    Column("by", String(64), nullable=False, server_default=""),
)
Index("ix_disc_job_steps_job", disc_job_steps.c.job_id, disc_job_steps.c.id)
