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

import threading
import time
from collections.abc import Callable, Iterator
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

# The storage lifecycle (docs/storage.md, "Metrics").
RECALLED_OBJECTS = Counter(
    "pacs_storage_recalled_objects",
    "Objects brought back online from another storage area, by outcome (done, failed)",
    ["outcome"],
    registry=None,
)
# Buckets from 0.1 s (one object from a NAS) to 300 s (a large study from a slow store).
RECALL_DURATION = Histogram(
    "pacs_storage_recall_duration_seconds",
    "Time to bring one study's objects back online (one recall)",
    buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
    registry=None,
)
COMPRESSION_SAVED_BYTES = Counter(
    "pacs_compression_saved_bytes",
    "Bytes the compression rules saved on the online area (old size minus new size)",
    registry=None,
)
# Durable task counts, read from the database when Prometheus scrapes (see count_at_scrape).
COMPRESSION_JOBS = Gauge(
    "pacs_compression_jobs", "Compression jobs by status", ["status"], registry=None
)
STORAGE_RULE_TASKS = Gauge(
    "pacs_storage_rule_tasks",
    "Storage rule tasks (copy, move, delete) by state",
    ["state"],
    registry=None,
)

PROCESS_METRICS = (
    INSTANCES_STORED,
    STORED_BYTES,
    DICOM_ASSOCIATIONS,
    DICOM_ASSOCIATIONS_ACTIVE,
    HTTP_REQUEST_DURATION,
    RECALLED_OBJECTS,
    RECALL_DURATION,
    COMPRESSION_SAVED_BYTES,
    COMPRESSION_JOBS,
    STORAGE_RULE_TASKS,
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


def recalled(done: int, failed: int, seconds: float) -> None:
    """One study's recall: how many objects came back, how many failed, how long it took."""
    RECALLED_OBJECTS.labels("done").inc(done)
    if failed:
        RECALLED_OBJECTS.labels("failed").inc(failed)
    RECALL_DURATION.observe(seconds)


def compression_saved(old_size: int, new_size: int) -> None:
    COMPRESSION_SAVED_BYTES.inc(max(0, old_size - new_size))


class _Cached:
    """A reader's answer kept for a second: one scrape reads each label's value from one
    query, not one query per label."""

    def __init__(self, reader: Callable[[], dict[str, int]]) -> None:
        self.reader = reader
        self._lock = threading.Lock()
        self._at = -1e12
        self._value: dict[str, int] = {}

    def get(self, label: str) -> float:
        with self._lock:
            if time.monotonic() - self._at > 1.0:
                try:
                    self._value = self.reader()
                except Exception:  # a scrape never fails on a database hiccup
                    self._value = {}
                self._at = time.monotonic()
            return float(self._value.get(label, 0))


def count_at_scrape(
    gauge: Gauge, labels: tuple[str, ...], reader: Callable[[], dict[str, int]]
) -> None:
    """The gauge's values for ``labels`` come from ``reader()`` (label -> count) when
    Prometheus scrapes, so they are never older than the scrape and nothing ticks for them.
    The part that owns the counts installs its reader at start (the last one installed wins:
    one core per process)."""
    cached = _Cached(reader)
    for label in labels:
        gauge.labels(label).set_function(_reading(cached, label))


def _reading(cached: _Cached, label: str) -> Callable[[], float]:
    return lambda: cached.get(label)


def register_process_metrics(registry: CollectorRegistry) -> None:
    for metric in PROCESS_METRICS:
        registry.register(metric)
