"""The process's Prometheus metric objects that lower layers update as things happen: objects
stored (the archive's ingest), DICOM associations (the DICOM adapter), HTTP request times (the
web's middleware). Infrastructure, so that the archive and the adapters count without
importing the monitoring domain.

They belong to no registry here: each web app's ``/metrics`` registry registers them with
its own collectors (queues, disks, database), so two cores in one test process do not clash
on the names. Counters are per process: with ``--dicom-workers`` or several nodes, Prometheus
sums the scrapes (the usual way), the core does not.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

INSTANCES_STORED = Counter(
    "pacs_instances_stored",
    "DICOM objects through the one ingest path, by channel (dimse, stow, import, report...)"
    " and outcome (stored, replaced, duplicate)",
    ["channel", "outcome"],
    registry=None,
)
STORED_BYTES = Counter(
    "pacs_stored_bytes",
    "Bytes of the DICOM objects stored or replaced, by channel",
    ["channel"],
    registry=None,
)
DICOM_ASSOCIATIONS = Counter(
    "pacs_dicom_associations",
    "DICOM associations served since start, by path (direct, pynetdicom)",
    ["path"],
    registry=None,
)
DICOM_ASSOCIATIONS_ACTIVE = Gauge(
    "pacs_dicom_associations_active",
    "DICOM associations open now",
    registry=None,
)
# Buckets from 5 ms (a cached page) to 30 s (an Excel export of a year).
HTTP_REQUEST_DURATION = Histogram(
    "pacs_http_request_duration_seconds",
    "HTTP request time to the end of the response, by method, route template and status class",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=None,
)

PROCESS_METRICS = (
    INSTANCES_STORED,
    STORED_BYTES,
    DICOM_ASSOCIATIONS,
    DICOM_ASSOCIATIONS_ACTIVE,
    HTTP_REQUEST_DURATION,
)


def stored(channel: str, outcome: str, size: int) -> None:
    """One object through the ingest path."""
    INSTANCES_STORED.labels(channel, outcome).inc()
    if outcome != "duplicate":
        STORED_BYTES.labels(channel).inc(size)


@contextmanager
def association(path: str) -> Iterator[None]:
    """Counts one association while the block serves it."""
    DICOM_ASSOCIATIONS.labels(path).inc()
    DICOM_ASSOCIATIONS_ACTIVE.inc()
    try:
        yield
    finally:
        DICOM_ASSOCIATIONS_ACTIVE.dec()


def association_opened(path: str) -> None:
    """For a path whose association ends in another callback (pynetdicom's events)."""
    DICOM_ASSOCIATIONS.labels(path).inc()
    DICOM_ASSOCIATIONS_ACTIVE.inc()


def association_closed() -> None:
    DICOM_ASSOCIATIONS_ACTIVE.dec()


def register_process_metrics(registry: CollectorRegistry) -> None:
    for metric in PROCESS_METRICS:
        registry.register(metric)
