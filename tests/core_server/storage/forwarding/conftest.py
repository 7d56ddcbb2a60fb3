"""Forwarding fixtures: a source archive with its forwarding service (no web server: the tests
run its rounds by hand), and real destinations: a pynetdicom storage SCP (with storage
commitment when asked) and dcmtk's storescp."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydicom import Dataset
from pynetdicom import AE, AllStoragePresentationContexts, build_role, evt
from pynetdicom.sop_class import StorageCommitmentPushModel, Verification  # type: ignore
from sqlalchemy import Engine

from core_server import db
from core_server.archive import Archive, Origin
from core_server.events import EventBus
from core_server.jobs import Retry
from core_server.storage.forwarding import config
from core_server.storage.forwarding.dicom_sender import COMMITMENT_INSTANCE
from core_server.storage.forwarding.service import Forwarding
from tests.conftest import free_port
from tests.dicom_data import encode, make_ct

# A back-off long enough that a task failed in a test is certainly not due in the next round
# (the tests make it due by hand, as an admin's "retry now" does).
SLOW_RETRY = Retry(first=60.0, longest=60.0, max_attempts=3)


@dataclass
class Source:
    engine: Engine
    archive: Archive
    bus: EventBus
    service: Forwarding
    data_dir: Path
    url: str
    events: list[dict[str, Any]] = field(default_factory=list)

    def store(self, ds: Dataset, ae: str = "CT1") -> str:
        self.archive.store_instance(encode(ds), Origin("dimse", ae))
        return str(ds.SOPInstanceUID)

    def study(self, count: int, **attributes: Any) -> list[str]:
        """``count`` small CT images of one new study; their SOP Instance UIDs."""
        from pydicom.uid import generate_uid

        study, series = generate_uid(), generate_uid()
        ae = attributes.pop("ae", "CT1")
        return [
            self.store(
                make_ct(study_uid=study, series_uid=series, instance_number=n + 1, **attributes),
                ae,
            )
            for n in range(count)
        ]


def open_source(url: str, data_dir: Path, **options: Any) -> Iterator[Source]:
    engine = db.make_engine(url)
    db.migrate(engine)
    bus = EventBus()
    archive = Archive(engine, data_dir / "storage", bus)
    options.setdefault("retry", SLOW_RETRY)
    service = Forwarding(engine, archive, bus, ae_title="SOURCE", commit_wait=30.0, **options)
    source = Source(engine, archive, bus, service, data_dir, url)
    bus.subscribe("storage.forwarding", lambda _t, p: source.events.append(p))
    try:
        yield source
    finally:
        service.stop()
        engine.dispose()


@pytest.fixture
def source(database_url: str, tmp_path: Path) -> Iterator[Source]:
    """A source archive and its forwarding service, on SQLite and PostgreSQL in turn."""
    yield from open_source(database_url, tmp_path)


@pytest.fixture
def sqlite_source(tmp_path: Path) -> Iterator[Source]:
    """The same on SQLite only (tests of a sender, where the database plays no part)."""
    yield from open_source(f"sqlite:///{tmp_path / 'source.db'}", tmp_path)


def dicom_destination(engine: Engine, port: int, **options: Any) -> config.Destination:
    options.setdefault("name", f"dest-{port}")
    return config.save_destination(
        engine,
        config.Destination(kind="dicom", ae_title="DEST", host="127.0.0.1", port=port, **options),
    )


def rule_to(engine: Engine, destination: config.Destination, **conditions: Any) -> config.Rule:
    conditions.setdefault("name", f"to-{destination.name}-{len(config.rules(engine))}")
    return config.save_rule(engine, config.Rule(destination_id=destination.id, **conditions))


class StoreSCP:
    """A pynetdicom storage SCP (AE title DEST) keeping what it receives, optionally the
    Storage Commitment SCP too: ``commit="same"`` answers N-EVENT-REPORT on the association
    that asked; ``commit="later"`` on a new association to ``report_to`` (host, port, AE
    title: the core's DICOM listener); ``commit="never"`` accepts the request and never
    reports."""

    def __init__(self, port: int, *, commit: str = "", delay: float = 0.0) -> None:
        self.port = port
        self.commit = commit
        self.report_to: tuple[str, int, str] | None = None
        self.reported: list[Any] = []  # the status of each report sent later
        self.delay = delay  # seconds per C-STORE (a slow peer, for a kill mid-batch)
        self.received: dict[str, Dataset] = {}
        self.stores = 0  # every C-STORE, duplicates included
        self.requests: list[Dataset] = []  # the N-ACTIONs' Action Information
        self._lock = threading.Lock()
        self._server: Any = None

    def start(self, tls: ssl.SSLContext | None = None) -> StoreSCP:
        ae = AE(ae_title="DEST")
        ae.supported_contexts = AllStoragePresentationContexts
        ae.add_supported_context(StorageCommitmentPushModel)
        ae.add_supported_context(Verification)
        handlers = [(evt.EVT_C_STORE, self._store), (evt.EVT_N_ACTION, self._action)]
        self._server = ae.start_server(
            ("127.0.0.1", self.port), block=False, evt_handlers=handlers, ssl_context=tls
        )
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def _store(self, event: Any) -> int:
        if self.delay:
            time.sleep(self.delay)
        ds = event.dataset
        ds.file_meta = event.file_meta
        with self._lock:
            self.received[str(ds.SOPInstanceUID)] = ds
            self.stores += 1
        return 0x0000

    def _action(self, event: Any) -> tuple[int, None]:
        info = event.action_information
        self.requests.append(info)
        if self.commit in ("same", "later"):
            threading.Thread(target=self._report, args=(event.assoc, info), daemon=True).start()
        return 0x0000, None

    def _report(self, assoc: Any, info: Dataset) -> None:
        time.sleep(0.2)  # after the N-ACTION response has gone
        report = self._report_of(info)
        event_type = 2 if "FailedSOPSequence" in report else 1
        if self.commit == "same":
            assoc.send_n_event_report(
                report, event_type, StorageCommitmentPushModel, COMMITMENT_INSTANCE
            )
            return
        assert self.report_to is not None
        host, port, ae_title = self.report_to
        ae = AE(ae_title="DEST")
        ae.add_requested_context(StorageCommitmentPushModel)
        role = build_role(StorageCommitmentPushModel, scp_role=True)  # we are its SCP
        later = ae.associate(host, port, ae_title=ae_title, ext_neg=[role])
        assert later.is_established, "the core refused the report's association"
        status, _ = later.send_n_event_report(
            report, event_type, StorageCommitmentPushModel, COMMITMENT_INSTANCE
        )
        self.reported.append(status)
        later.release()

    def _report_of(self, info: Dataset) -> Dataset:
        report = Dataset()
        report.TransactionUID = info.TransactionUID
        report.ReferencedSOPSequence = []
        report.FailedSOPSequence = []
        for item in info.ReferencedSOPSequence:
            kept = str(item.ReferencedSOPInstanceUID) in self.received
            answer = Dataset()
            answer.ReferencedSOPClassUID = item.ReferencedSOPClassUID
            answer.ReferencedSOPInstanceUID = item.ReferencedSOPInstanceUID
            if not kept:
                answer.FailureReason = 0x0112  # no such object instance
            (report.ReferencedSOPSequence if kept else report.FailedSOPSequence).append(answer)
        if not report.FailedSOPSequence:
            del report.FailedSOPSequence
        return report


@pytest.fixture
def store_scp() -> Iterator[StoreSCP]:
    """A pynetdicom storage SCP on a free port, not yet started (``.start()``)."""
    scp = StoreSCP(free_port())
    try:
        yield scp
    finally:
        scp.stop()


def wait_listening(port: int, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process is not None:
            assert process.poll() is None, "the destination exited"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


@dataclass
class Storescp:
    port: int
    folder: Path
    process: subprocess.Popen[bytes]


@pytest.fixture
def storescp(tmp_path: Path) -> Iterator[Storescp]:
    """dcmtk's storescp (AE title DEST) writing what it receives to a folder."""
    port = free_port()
    folder = tmp_path / "storescp"
    folder.mkdir()
    process = subprocess.Popen(
        ["storescp", "-aet", "DEST", "-od", str(folder), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TCP_NODELAY": "1"},
    )
    try:
        wait_listening(port, process)
        yield Storescp(port, folder, process)
    finally:
        process.terminate()
        process.wait(timeout=10)
