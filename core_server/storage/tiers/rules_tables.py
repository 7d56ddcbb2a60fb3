"""Tables of the lifecycle rules (docs/storage-rules.md); migration 0133.

``storage_rules`` holds the admin-edited rules, ``storage_rule_tasks`` the durable work they
make (one row per object and action, with the :func:`core_server.jobs.job_columns`),
``storage_rule_settings`` the one row of the runner's schedule and limits (and the day the
prefetch last ran, so that of several core processes one runs it once), ``storage_study_reads``
when each study was last read (for "keep online until N % full, oldest-read first").
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, Index, Integer, String, Table, Text

from core_server.db import BigId, Key, UtcDateTime, metadata
from core_server.jobs import job_columns

storage_rules = Table(
    "storage_rules",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("enabled", Boolean, nullable=False, server_default="1"),
    Column("priority", Integer, nullable=False, server_default="100"),  # lower runs first
    # land, copy, move, keep_online_until, delete_copy_after
    Column("action", String(24), nullable=False),
    Column("area", String(32), nullable=False, server_default=""),
    Column("min_verified", Integer, nullable=False, server_default="1"),
    Column("fill_percent", Integer, nullable=False, server_default="0"),
    Column("days", Integer, nullable=False, server_default="0"),
    Column("conditions", Text, nullable=False, server_default="{}", comment="JSON"),
    Column("created_by", String(64), nullable=False, server_default=""),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

storage_rule_tasks = Table(
    "storage_rule_tasks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("rule_id", BigId, nullable=True),  # None: asked by hand; no FK (a rule may go)
    Column("kind", String(16), nullable=False),  # copy, move, delete_copy
    Column("sop_instance_uid", Key(64), nullable=False),
    Column("study_instance_uid", Key(64), nullable=False, server_default=""),
    Column("area", String(32), nullable=False),
    Column("min_verified", Integer, nullable=False, server_default="1"),
    Column("size", BigInteger, nullable=False, server_default="0"),
    Column("urgent", Boolean, nullable=False, server_default="0"),  # land: outside idle hours
    Column("created_at", UtcDateTime, nullable=False),
    Column("done_at", UtcDateTime, nullable=True),
    *job_columns(),
    Index(None, "status", "next_attempt_at"),
    Index(None, "sop_instance_uid", "kind"),
    Index(None, "rule_id"),
)

storage_rule_settings = Table(
    "storage_rule_settings",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1
    Column("idle_start", String(5), nullable=False, server_default="22:00"),  # hospital time
    Column("idle_end", String(5), nullable=False, server_default="06:00"),
    Column("max_mb_per_second", Float, nullable=False, server_default="50"),
    Column("max_objects_per_second", Float, nullable=False, server_default="100"),
    Column("busy_per_minute", Integer, nullable=False, server_default="300"),
    Column("run_now_until", UtcDateTime, nullable=True),
    Column("prefetch_enabled", Boolean, nullable=False, server_default="1"),
    Column("prefetch_at", String(5), nullable=False, server_default="20:00"),
    Column("prefetch_per_patient", Integer, nullable=False, server_default="3"),
    Column("prefetch_last_day", String(10), nullable=False, server_default=""),
    Column("updated_at", UtcDateTime, nullable=True),
)

storage_study_reads = Table(
    "storage_study_reads",
    metadata,
    Column("study_instance_uid", Key(64), primary_key=True),
    Column("read_at", UtcDateTime, nullable=False),
    Index(None, "read_at"),
)
