"""Two whole cores on one PostgreSQL database and one storage path, as two cluster nodes: a
call made on one node reaches a display connected to the other through the relay (the feed's
own poll set to an hour, so only the relay's wake can deliver it), sign-in backoff counted
on one node holds on the other, a study stored on one node is moved by the other to a
destination registered on the first, and a storage commitment report owed by a node that died
is sent by a live one."""

from __future__ import annotations

import os
import queue
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pydicom import Dataset
from pydicom.uid import CTImageStorage, generate_uid
from pynetdicom import AE, evt
from pynetdicom.sop_class import StorageCommitmentPushModel
from sqlalchemy import select, update
from websockets.sync.client import connect

from core_server import auth, clock, db
from core_server.auth import signin
from core_server.dicom import commitment_jobs as owed
from tests.conftest import RunningCore, free_port
from tests.core_server.cluster.conftest import migrated_database
from tests.core_server.dicom.clients import dcmtk, keys, nodelay, peer
from tests.core_server.dicom.test_commitment import Report, receiver
from tests.core_server.dicom.test_retrieve import sop_uids, store_study, wait_listening
from tests.core_server.queueing.test_api import enrol, key, order_exam, setup_ct
from tests.core_server.queueing.test_websocket import receive, until, ws_url
from tests.postgres import Cluster


@pytest.fixture(scope="module")
def nodes(
    postgres: Cluster, pg_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningCore, RunningCore]]:
    url = migrated_database(postgres, pg_template)
    shared: Path = tmp_path_factory.mktemp("shared-storage")
    a, b = (
        RunningCore(tmp_path_factory.mktemp(f"node-{n}"), url, storage_path=shared) for n in "ab"
    )
    a.start()  # one after the other: both would also migrate together (test_migrate_once)
    b.start()
    for node in (a, b):  # only a wake from the relay delivers within the test's time
        node.core.queueing.feed._ticker.interval = 3600
    yield a, b
    b.stop()
    a.stop()


def test_a_call_on_one_node_reaches_a_display_on_the_other(
    nodes: tuple[RunningCore, RunningCore],
) -> None:
    a, b = nodes
    setup_ct(a)
    for n in range(2):
        order_exam(a, f"X{n:03d}", f"跨节点{n}")
        with b.api() as admin:
            answer = admin.post("/api/queueing/check-in", json={"barcode": f"X{n:03d}"})
            assert answer.status_code == 201, answer.text
    caller = enrol(a, "ct1-caller", "caller", room="CT1")  # its key works on every node
    on_b = httpx.Client(base_url=b.base_url, headers=dict(caller.headers))
    on_a = httpx.Client(base_url=a.base_url, headers=dict(caller.headers))
    screen = enrol(b, "hall-screen", "screen", screen="1F")
    screen_key = screen.headers["Authorization"].split()[1]
    with connect(ws_url(a, screen_key)) as display_a, connect(ws_url(b, screen_key)) as display_b:
        assert receive(display_a)["type"] == receive(display_b)["type"] == "hello"
        called = on_b.post("/api/queueing/rooms/CT1/call-next", headers=key())
        assert called.status_code == 200, called.text
        event = until(display_a, "ticket.called")  # called on B, shown by A
        assert event["payload"]["ticket_id"] == called.json()["ticket"]["id"]
        assert until(display_b, "ticket.called")["seq"] == event["seq"]
        again = on_a.post("/api/queueing/rooms/CT1/call-next", headers=key())
        assert again.status_code == 200, again.text
        seen = until(display_b, "ticket.called")  # and the other way round
        assert seen["payload"]["ticket_id"] == again.json()["ticket"]["id"]
        assert seen["seq"] > event["seq"]
    assert a.core.relay is not None and a.core.relay.received >= 1
    assert b.core.relay is not None and b.core.relay.received >= 1


def test_sign_in_backoff_counted_on_one_node_holds_on_the_other(
    nodes: tuple[RunningCore, RunningCore],
) -> None:
    a, b = nodes
    auth.create_user(a.core.engine, "reg9", "registrar-pass-9", "registrar")
    for _ in range(signin.ACCOUNT_FREE_FAILURES):
        bad = httpx.post(
            a.base_url + "/api/auth/token", data={"username": "reg9", "password": "wrong"}
        )
        assert bad.status_code == 401
    slowed = httpx.post(
        b.base_url + "/api/auth/token", data={"username": "reg9", "password": "registrar-pass-9"}
    )
    assert slowed.status_code == 429
    # Slowed (the account's backoff) or locked (this account from this address): both read
    # the failures node A wrote to the audit trail.
    assert slowed.json()["detail"]["code"] in {"auth.signin.throttled", "auth.signin.locked"}
    other = httpx.post(
        b.base_url + "/api/auth/token", data={"username": "admin", "password": "wrong"}
    )
    assert other.status_code == 401  # another account from the same address is not held


def test_a_commitment_report_owed_by_a_dead_node_is_sent_by_another(
    nodes: tuple[RunningCore, RunningCore],
) -> None:
    a, _ = nodes
    reports: queue.Queue[Report] = queue.Queue()
    ae = AE(ae_title="MODALITY")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    ae.add_supported_context(StorageCommitmentPushModel, scu_role=True, scp_role=True)
    port = free_port()
    server = ae.start_server(
        ("127.0.0.1", port),
        block=False,
        evt_handlers=[(evt.EVT_CONN_OPEN, nodelay), (evt.EVT_N_EVENT_REPORT, receiver(reports))],
    )
    a.register("MODALITY", port=port)
    found = Dataset()
    found.TransactionUID = generate_uid()
    found.RetrieveAETitle = a.ae_title
    item = Dataset()
    item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID = CTImageStorage, generate_uid()
    found.FailedSOPSequence = [item]
    engine = a.core.engine
    # A node took the N-ACTION, wrote the report's row and died before sending it.
    job_id = owed.owe(engine, "MODALITY", found, 2, owner="gone-host:4242:0")
    with db.write(engine) as conn:
        conn.execute(
            update(owed.commitment_reports)
            .where(owed.commitment_reports.c.id == job_id)
            .values(claimed_until=clock.now() - timedelta(seconds=1))  # its lease ran out
        )
    try:
        report = reports.get(timeout=60)  # a live node's runner took the row over
        assert report.event_type == 2
        assert report.dataset.TransactionUID == found.TransactionUID
        assert report.calling_ae_title == a.ae_title
        deadline = time.monotonic() + 30  # recorded once the association is released
        while True:
            with db.read(engine) as conn:
                row = conn.execute(
                    select(owed.commitment_reports).where(owed.commitment_reports.c.id == job_id)
                ).one()
            if row.status == owed.SENT or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert row.status == owed.SENT and row.attempts == 2
        assert reports.empty()  # sent once, not by both nodes
    finally:
        server.shutdown()


def test_a_study_stored_on_one_node_is_moved_by_the_other(
    nodes: tuple[RunningCore, RunningCore], tmp_path: Path
) -> None:
    a, b = nodes
    study = store_study(a, tmp_path / "objects")  # its files on the shared storage path
    port = free_port()
    folder = tmp_path / "dest"
    folder.mkdir()
    storescp = subprocess.Popen(
        ["storescp", "-aet", "DEST", "-od", str(folder), str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TCP_NODELAY": "1"},
    )
    try:
        wait_listening(port, storescp)
        a.register("DEST", port=port)  # registered on A: the table every node reads
        a.register("MOVESCU", allow_retrieve=True)
        log = dcmtk(
            "movescu",
            "-v",
            "-S",
            "-aem",
            "DEST",
            *keys(QueryRetrieveLevel="STUDY", StudyInstanceUID=study.study),
            *peer(b),
            check=False,
        ).stderr
        assert "Received Final Move Response (Success)" in log, log
        received = sorted(p for p in folder.iterdir() if p.is_file())
        assert sop_uids(received) == set(study.images.values())
    finally:
        storescp.terminate()
        storescp.wait(10)
