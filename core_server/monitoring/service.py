"""The monitoring service of one core: the minute's round (sample, alerts, pruning) on a
``Periodic`` ticker, and what the web adapter reads (the registry, the page's numbers)."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from core_server import clock
from core_server.monitoring import readings, system
from core_server.monitoring.alerts import (
    Alerts,
    Condition,
    Notifier,
    certificate_conditions,
    device_conditions,
    disk_conditions,
    queue_conditions,
)
from core_server.monitoring.collector import build_registry
from core_server.periodic import Periodic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Thresholds:
    disk_percent: float = 85.0
    queue_stall: timedelta = timedelta(minutes=30)
    device_offline: timedelta | None = timedelta(minutes=15)  # None: no device alerts
    certificate_file: Path | None = None
    certificate_within: timedelta = timedelta(days=30)

    @classmethod
    def from_settings(cls, settings: Any) -> Thresholds:
        offline = settings.alert_device_offline_minutes
        return cls(
            disk_percent=settings.alert_disk_percent,
            queue_stall=timedelta(minutes=settings.alert_queue_stall_minutes),
            device_offline=timedelta(minutes=offline) if offline else None,
            certificate_file=settings.alert_certificate_file,
            certificate_within=timedelta(days=settings.alert_certificate_days),
        )


def node_name(http_port: int) -> str:
    return f"{socket.gethostname()}:{http_port}"


class Monitoring:
    def __init__(
        self,
        engine: Engine,
        *,
        storage_dir: Path,
        data_dir: Path,
        node: str,
        thresholds: Thresholds | None = None,
        notifiers: list[Notifier] | None = None,
        interval: float = 60.0,
        keep: timedelta = timedelta(hours=48),
    ) -> None:
        self.engine = engine
        self.storage_dir, self.data_dir = storage_dir, data_dir
        self.node = node
        self.thresholds = thresholds or Thresholds()
        self.alerts = Alerts(engine, node, notifiers)
        self.keep = keep
        self.ticker = Periodic("monitoring", interval, self.tick)
        self.registry: CollectorRegistry = build_registry(self)
        system.snapshot([])  # psutil's CPU share counts from here

    def start(self) -> None:
        self.ticker.start()

    def stop(self) -> None:
        self.ticker.stop()

    def disks(self) -> list[readings.Disk]:
        return readings.disks(self.storage_dir, self.data_dir)

    def devices(self, now: datetime | None = None) -> list[readings.DeviceState]:
        window = self.thresholds.device_offline or timedelta(minutes=15)
        return readings.device_states(self.engine, window, now)

    def snapshot(self) -> system.Snapshot:
        return system.snapshot(self.disks())

    def conditions(self, now: datetime, disks: list[readings.Disk]) -> list[Condition]:
        t = self.thresholds
        found = disk_conditions(disks, t.disk_percent, self.node)
        found += queue_conditions(readings.queues(self.engine), t.queue_stall, now)
        if t.device_offline is not None:
            found += device_conditions(self.devices(now))
        found += certificate_conditions(t.certificate_file, t.certificate_within, now, self.node)
        return found

    def tick(self) -> None:
        """One round: a sample, the alerts raised or cleared, old rows pruned."""
        now = clock.now()
        taken = self.snapshot()
        system.record(self.engine, self.node, taken, now)
        self.alerts.update(self.conditions(now, taken.disks))
        system.prune(self.engine, now - self.keep)
        self.alerts.prune(now - self.keep)

    def page(self, lang: str, node: str | None = None) -> dict[str, Any]:
        """The system page's numbers: now, the last day, the alerts."""
        now = clock.now()
        day_ago = now - timedelta(days=1)
        chosen = node or self.node
        return {
            "node": chosen,
            "nodes": sorted(set(system.nodes(self.engine, day_ago)) | {self.node}),
            "now": self.snapshot().as_dict() if chosen == self.node else None,
            "history": system.history(self.engine, chosen, day_ago),
            "queues": [
                {"name": q.name, "counts": q.counts, "oldest_age_seconds": q.oldest_age(now)}
                for q in readings.queues(self.engine)
            ],
            "devices": [
                {
                    "name": d.name,
                    "kind": d.kind,
                    "online": d.online,
                    "last_seen_at": clock.iso(d.last_seen_at),
                }
                for d in self.devices(now)
            ],
            "alerts": [a.as_dict(lang) for a in self.alerts.listing(day_ago)],
        }


def monitoring_for(settings: Any, engine: Engine) -> Monitoring:
    """The core's monitoring as its settings configure it (thresholds, mail, syslog)."""
    from core_server.monitoring.notify import notifiers

    node = node_name(settings.http_port)
    return Monitoring(
        engine,
        storage_dir=settings.storage_dir,
        data_dir=settings.data_dir,
        node=node,
        thresholds=Thresholds.from_settings(settings),
        notifiers=notifiers(
            mail_to=settings.alert_mail_to,
            smtp_host=settings.smtp_host,
            smtp_from=settings.smtp_from,
            syslog=settings.alert_syslog,
            hospital=settings.hospital_name or "医学影像中心",
            node=node,
        ),
        interval=settings.monitoring_sample_seconds,
        keep=timedelta(hours=settings.monitoring_keep_hours),
    )
