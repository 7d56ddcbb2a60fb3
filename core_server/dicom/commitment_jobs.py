"""Storage commitment reports owed to a requestor, as durable job rows (``docs/cluster-state.md``).

The node that took the N-ACTION writes the report's row before it answers, claimed by itself,
and tries the requestor's own association, then one new association; when both fail (the
requestor's SCP is down) or that node dies, the row waits with a back-off and any node's
runner claims it (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a lease another node takes over)
and sends it on a new association to the requestor's registered host and port.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydicom import Dataset
from sqlalchemy import (
    Column,
    Engine,
    Index,
    Integer,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
)

from core_server import clock, db, jobs
from core_server.db import BigId, UtcDateTime, metadata

SENT = "sent"
LEASE = timedelta(seconds=90)  # a try: one association with its timeouts
RETRY = jobs.Retry(first=5.0, longest=600.0, max_attempts=12)  # about an hour of tries
KEEP_SENT = timedelta(days=2)

commitment_reports = Table(
    "dicom_commitment_reports",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("transaction_uid", String(64), nullable=False),
    Column("calling_ae", String(16), nullable=False),
    Column("event_type", Integer, nullable=False),  # 1 all committed, 2 some failed
    Column("report", Text, nullable=False, comment="the N-EVENT-REPORT dataset, DICOM JSON"),
    Column("created_at", UtcDateTime, nullable=False),
    *jobs.job_columns(),
)
Index(
    "ix_dicom_commitment_reports_status_next_attempt_at",
    commitment_reports.c.status,
    commitment_reports.c.next_attempt_at,
)
JOBS = jobs.Jobs(commitment_reports)


def owe(engine: Engine, calling: str, found: Dataset, event_type: int, owner: str) -> int:
    """The report's row, already claimed by ``owner`` (the node about to try it); its id."""
    now = clock.now()
    with db.write(engine) as conn:
        return int(
            conn.execute(
                insert(commitment_reports)
                .values(
                    transaction_uid=str(found.TransactionUID),
                    calling_ae=calling,
                    event_type=event_type,
                    report=found.to_json(),
                    created_at=now,
                    status=JOBS.claimed,
                    attempts=1,
                    next_attempt_at=now,
                    claimed_by=owner,
                    claimed_until=now + LEASE,
                )
                .returning(commitment_reports.c.id)
            ).scalar_one()
        )


def report_of(row: Any) -> Dataset:
    return Dataset.from_json(row.report)


def any_due(engine: Engine) -> bool:
    """A cheap read before a claim (a write transaction)."""
    with db.read(engine) as conn:
        found = conn.execute(
            select(func.count()).select_from(commitment_reports).where(JOBS.claimable(clock.now()))
        ).scalar()
    return bool(found)


def prune(engine: Engine) -> int:
    """Forget reports sent more than ``KEEP_SENT`` ago (dead ones stay for the administrator)."""
    with db.write(engine, durable=False) as conn:
        done = conn.execute(
            delete(commitment_reports).where(
                commitment_reports.c.status == SENT,
                commitment_reports.c.created_at < clock.now() - KEEP_SENT,
            )
        )
    return int(done.rowcount or 0)
