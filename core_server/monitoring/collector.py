"""The ``/metrics`` registry of one core: the process's counters (:mod:`core_server.metrics`)
and a collector that reads the queues, disks, database and devices when Prometheus scrapes,
so the numbers are never older than the scrape and nothing ticks to keep them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from core_server import clock, metrics
from core_server.monitoring import readings

if TYPE_CHECKING:
    from core_server.monitoring.service import Monitoring


class StateCollector(Collector):
    def __init__(self, monitoring: Monitoring) -> None:
        self.monitoring = monitoring

    def collect(self) -> Iterator[GaugeMetricFamily]:
        m = self.monitoring
        now = clock.now()
        jobs = GaugeMetricFamily(
            "pacs_queue_jobs", "Jobs in a durable queue, by status", labels=["queue", "status"]
        )
        age = GaugeMetricFamily(
            "pacs_queue_oldest_pending_age_seconds",
            "Age of the oldest pending job of a queue (0 when none waits)",
            labels=["queue"],
        )
        for queue in readings.queues(m.engine):
            for status, count in queue.counts.items():
                jobs.add_metric([queue.name, status], count)
            age.add_metric([queue.name], queue.oldest_age(now))
        yield jobs
        yield age
        free = GaugeMetricFamily(
            "pacs_disk_free_bytes", "Free bytes of a storage area's file system", labels=["area"]
        )
        used = GaugeMetricFamily(
            "pacs_disk_used_bytes", "Used bytes of a storage area's file system", labels=["area"]
        )
        size = GaugeMetricFamily(
            "pacs_disk_size_bytes", "Size of a storage area's file system", labels=["area"]
        )
        for disk in m.disks():
            free.add_metric([disk.area], disk.free)
            used.add_metric([disk.area], disk.used)
            size.add_metric([disk.area], disk.total)
        yield from (free, used, size)
        yield GaugeMetricFamily(
            "pacs_database_size_bytes",
            "The database's size (SQLite file and WAL, or pg_database_size)",
            value=readings.database_bytes(m.engine),
        )
        devices = GaugeMetricFamily(
            "pacs_devices", "Enrolled device programs, online or offline", labels=["state"]
        )
        states = m.devices(now)
        online = sum(1 for d in states if d.online)
        devices.add_metric(["online"], online)
        devices.add_metric(["offline"], len(states) - online)
        yield devices
        yield GaugeMetricFamily(
            "pacs_alerts_open", "Alerts raised and not yet cleared", value=m.alerts.open_count()
        )


def build_registry(monitoring: Monitoring) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    metrics.register_process_metrics(registry)
    registry.register(StateCollector(monitoring))
    ProcessCollector(namespace="pacs", registry=registry)  # CPU seconds, memory, open files
    return registry
