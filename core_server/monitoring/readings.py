"""What the core reads about itself at a given moment, for the metrics, the system page and the
alerts alike: its job queues, its disks, its database and its device programs.

The queues are read by table name (``sqlalchemy.table``): the HL7 outbound queue belongs to
the HL7 adapter, which this layer may not import; both queue tables have the job columns of
:mod:`core_server.jobs` (``status``, ``created_at``).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, column, func, select, table, text

from core_server import clock, db
from core_server.queueing import devices as queue_devices

# Queue name -> (table, the states a job waits or runs in, its done/dead states aside).
QUEUES = {
    "hl7_outbound": ("hl7_outbound_jobs", ("pending", "sending", "dead")),
    "report_output": ("report_output_objects", ("pending", "running", "dead")),
    "forwarding": ("forwarding_tasks", ("pending", "running", "sent", "dead")),
}
WAITING = ("pending",)


@dataclass(frozen=True)
class Queue:
    name: str
    counts: dict[str, int]  # status -> jobs (pending, claimed, dead)
    oldest_pending: datetime | None  # created_at of the oldest pending job

    def oldest_age(self, now: datetime) -> float:
        return (now - self.oldest_pending).total_seconds() if self.oldest_pending else 0.0


@dataclass(frozen=True)
class Disk:
    area: str  # "storage" (the DICOM files) or "data" (database, secrets, layouts)
    path: Path
    total: int
    used: int
    free: int

    @property
    def percent(self) -> float:
        return round(100.0 * self.used / self.total, 1) if self.total else 0.0


@dataclass(frozen=True)
class DeviceState:
    name: str
    kind: str
    last_seen_at: datetime | None
    online: bool


def queues(engine: Engine) -> list[Queue]:
    found = []
    with db.read(engine) as conn:
        for name, (table_name, states) in QUEUES.items():
            jobs = table(table_name, column("status"), column("created_at"))
            rows = conn.execute(
                select(jobs.c.status, func.count())
                .where(jobs.c.status.in_(states))
                .group_by(jobs.c.status)
            )
            counts = dict.fromkeys(states, 0) | {str(s): int(n) for s, n in rows}
            oldest = conn.execute(
                select(func.min(jobs.c.created_at)).where(jobs.c.status.in_(WAITING))
            ).scalar()
            found.append(Queue(name, counts, _aware(oldest)))
    return found


def _aware(value: object) -> datetime | None:
    """``func.min`` over a lightweight table has no column type: SQLite gives the text."""
    if value is None:
        return None
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def disks(storage_dir: Path, data_dir: Path) -> list[Disk]:
    found = []
    for area, path in (("storage", storage_dir), ("data", data_dir)):
        usage = shutil.disk_usage(_existing(path))
        found.append(Disk(area, path, usage.total, usage.used, usage.free))
    return found


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def database_bytes(engine: Engine) -> int:
    """The SQLite file with its WAL, or ``pg_database_size`` of the current database."""
    if db.is_sqlite(engine):
        name = engine.url.database or ""
        if not name or name == ":memory:":
            return 0
        return sum(os.path.getsize(p) for p in (name, name + "-wal") if os.path.exists(p))
    with db.read(engine) as conn:
        size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
    return int(size or 0)


def device_states(
    engine: Engine, offline_after: timedelta, now: datetime | None = None
) -> list[DeviceState]:
    now = now or clock.now()
    return [
        DeviceState(
            d.name,
            d.kind,
            d.last_seen_at,
            d.last_seen_at is not None and now - d.last_seen_at <= offline_after,
        )
        for d in queue_devices.list_devices(engine)
    ]
