"""The cluster's own tables: the relayed events, the last round of each cluster-once ticker
and the core processes that hold claims (their liveness)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from core_server.db import BigId, UtcDateTime, metadata

# Bus events that cross nodes: written and announced (NOTIFY) by the publishing node, read by
# the others after the id they last saw; kept an hour (a reconnect's catch-up reads them).
cluster_events = Table(
    "cluster_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("node", String(64), nullable=False),
    Column("topic", String(64), nullable=False),
    Column("payload", Text, nullable=False, comment="JSON"),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_cluster_events_created_at", "created_at"),
)

# One row per cluster-once ticker: which node ran its last round, and when.
cluster_tickers = Table(
    "cluster_tickers",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("node", String(64), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
)

# One row per core process that holds claims (jobs.owners.this_process()): who it is and, on
# PostgreSQL, the key of the session advisory lock it holds while it lives (cluster/nodes.py).
# A row whose lock nobody holds is a dead process: its claims are taken over.
cluster_nodes = Table(
    "cluster_nodes",
    metadata,
    Column("owner", String(64), primary_key=True),
    Column("host", String(64), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("lock_key", BigInteger, nullable=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("seen_at", UtcDateTime, nullable=False),
)
