"""Kill -9 of a forwarding process mid-batch (a subprocess running the worker on the same
database and storage): the next process releases the dead one's claims at start and sends
the batch again, so every object arrives and none is lost. Objects the killed process had
sent already arrive twice: a second C-STORE of the same SOP instance is allowed (the peer
keeps one copy), which is what DICOM offers for an answer that never came back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core_server.storage.forwarding import queue
from tests.core_server.storage.forwarding.conftest import (
    Source,
    StoreSCP,
    dicom_destination,
    rule_to,
)

WORKER = """
import sys, time
from pathlib import Path
from core_server import db
from core_server.archive import Archive
from core_server.events import EventBus
from core_server.storage.forwarding.service import Forwarding

engine = db.make_engine(sys.argv[1])
bus = EventBus()
service = Forwarding(engine, Archive(engine, Path(sys.argv[2]), bus), bus, subscribe=False)
print("ready", flush=True)
while True:
    service.run_once()
    time.sleep(0.2)
"""


def _wait(check: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_kill_mid_batch_loses_nothing(source: Source, store_scp: StoreSCP) -> None:
    store_scp.delay = 0.3  # a slow peer: the batch is under way when the kill comes
    store_scp.start()
    dest = dicom_destination(source.engine, store_scp.port)
    rule_to(source.engine, dest)
    uids = source.study(10)

    root = Path(__file__).resolve().parents[4]
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, source.url, str(source.data_dir / "storage")],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.PIPE,
    )
    try:
        _wait(lambda: store_scp.stores >= 3, "the worker to be mid-batch")
        running = queue.listed(source.engine, status="running")
        assert running, "the killed worker held the batch"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    assert len(store_scp.received) < len(uids)  # it died before the end

    source.service.start()  # releases the dead process's claims, sends them again
    try:
        _wait(
            lambda: {t["status"] for t in queue.listed(source.engine)} == {"sent"},
            "every task sent",
        )
    finally:
        source.service.stop()
    assert set(store_scp.received) == set(uids)  # none lost
    assert store_scp.stores >= len(uids)  # some twice: allowed by DICOM
