"""The machine now (psutil) and over the last day (the samples this node writes every
minute into ``monitoring_samples``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psutil
from sqlalchemy import Engine, delete, insert, select

from core_server import clock, db
from core_server.monitoring.readings import Disk
from core_server.monitoring.tables import monitoring_samples as samples

SERIES = ("cpu_percent", "memory_percent", "storage_percent", "data_percent", "load1")


@dataclass(frozen=True)
class Snapshot:
    cpu_percent: float
    cpus: int
    memory_percent: float
    memory_used: int
    memory_total: int
    load: tuple[float, float, float]
    disks: list[Disk]

    def as_dict(self) -> dict[str, Any]:
        return {
            "cpu_percent": self.cpu_percent,
            "cpus": self.cpus,
            "memory_percent": self.memory_percent,
            "memory_used_bytes": self.memory_used,
            "memory_total_bytes": self.memory_total,
            "load": list(self.load),
            "disks": [
                {
                    "area": d.area,
                    "path": str(d.path),
                    "total_bytes": d.total,
                    "used_bytes": d.used,
                    "free_bytes": d.free,
                    "percent": d.percent,
                }
                for d in self.disks
            ],
        }


def snapshot(disks: list[Disk]) -> Snapshot:
    """CPU is the share since the previous call (psutil's own bookkeeping, no sleep): the
    minute's ticker calls it, so between two samples it is the minute's average."""
    memory = psutil.virtual_memory()
    return Snapshot(
        cpu_percent=float(psutil.cpu_percent(interval=None)),
        cpus=psutil.cpu_count() or 1,
        memory_percent=float(memory.percent),
        memory_used=int(memory.total - memory.available),
        memory_total=int(memory.total),
        load=os.getloadavg(),
        disks=disks,
    )


def record(engine: Engine, node: str, now: Snapshot, at: datetime | None = None) -> None:
    by_area = {d.area: d.percent for d in now.disks}
    with db.write(engine, durable=False) as conn:  # a lost minute on a crash costs nothing
        conn.execute(
            insert(samples).values(
                node=node,
                sampled_at=at or clock.now(),
                cpu_percent=now.cpu_percent,
                memory_percent=now.memory_percent,
                storage_percent=by_area.get("storage", 0.0),
                data_percent=by_area.get("data", 0.0),
                load1=now.load[0],
            )
        )


def history(engine: Engine, node: str, since: datetime) -> dict[str, Any]:
    """The node's samples since ``since`` as chart series: times (ISO, hospital zone) and one
    list per measure."""
    c = samples.c
    with db.read(engine) as conn:
        rows = conn.execute(
            select(samples)
            .where(c.node == node, c.sampled_at >= since)
            .order_by(c.sampled_at, c.id)
        ).all()
    return {
        "times": [clock.iso(r.sampled_at) for r in rows],
        **{name: [getattr(r, name) for r in rows] for name in SERIES},
    }


def nodes(engine: Engine, since: datetime) -> list[str]:
    with db.read(engine) as conn:
        rows = conn.execute(
            select(samples.c.node).where(samples.c.sampled_at >= since).distinct()
        ).all()
    return sorted(r.node for r in rows)


def prune(engine: Engine, before: datetime) -> int:
    with db.write(engine, durable=False) as conn:
        gone = conn.execute(delete(samples).where(samples.c.sampled_at < before))
    return int(gone.rowcount or 0)
