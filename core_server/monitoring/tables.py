"""The monitoring domain's two tables: the system page's samples and the alerts.

Both are per node (``node``: the host name and HTTP port), since issue 16 runs several core
processes on several machines and each samples its own CPU and disks; a database row rather
than an in-memory ring so that a restart keeps the day's charts and every node's page can show
every node.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, String, Table, Text

from core_server.db import BigId, UtcDateTime, metadata

# One row a minute per node; pruned after ``monitoring_keep_hours``.
monitoring_samples = Table(
    "monitoring_samples",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("node", String(128), nullable=False),
    Column("sampled_at", UtcDateTime, nullable=False),
    Column("cpu_percent", Float, nullable=False),
    Column("memory_percent", Float, nullable=False),
    Column("storage_percent", Float, nullable=False),
    Column("data_percent", Float, nullable=False),
    Column("load1", Float, nullable=False),
    Index("ix_monitoring_samples_node_time", "node", "sampled_at"),
)

# An alert is raised once (a row with ``open_key`` = its key) and cleared when its condition
# ends (``cleared_at`` set, ``open_key`` NULL). The unique ``open_key`` keeps a second node
# from raising the same alert again while it is open; NULLs never collide.
monitoring_alerts = Table(
    "monitoring_alerts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False),  # e.g. "disk:storage@host:8080"
    Column("open_key", String(200), nullable=True, unique=True),
    Column("kind", String(20), nullable=False),  # disk, queue, device, certificate
    Column("subject", String(200), nullable=False),  # what it is about: a path, a queue...
    Column("detail", Text, nullable=False, server_default=""),  # JSON: the values seen
    Column("raised_at", UtcDateTime, nullable=False),
    Column("cleared_at", UtcDateTime, nullable=True),
    Index("ix_monitoring_alerts_raised", "raised_at"),
)
