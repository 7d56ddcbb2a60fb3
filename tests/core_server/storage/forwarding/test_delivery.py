"""Forwarding over C-STORE: a destination that is down, then back (the task waits out its
back-off and goes once); dcmtk's storescp receives identical pixel data (a compressed object
decompressed for it, as storescp takes uncompressed syntaxes only); dead letters after the
last try and an admin's re-queue; a registered modality's address over DICOM TLS."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from pydicom import dcmread
from pydicom.uid import JPEGLSLossless
from sqlalchemy import select

from core_server import clock, db
from core_server.modalities import Modality, add_modality
from core_server.storage.compression import codecs
from core_server.storage.forwarding import config, queue
from core_server.storage.forwarding.tables import forwarding_tasks
from core_server.tls import Files, certificates
from core_server.tls.contexts import server_context
from tests.core_server.storage.forwarding.conftest import (
    Source,
    StoreSCP,
    Storescp,
    dicom_destination,
    open_source,
    rule_to,
)
from tests.dicom_data import make_ct


def _tasks(source: Source) -> list[dict[str, object]]:
    return queue.listed(source.engine)


def test_down_destination_waits_then_delivers_once(source: Source, store_scp: StoreSCP) -> None:
    dest = dicom_destination(source.engine, store_scp.port)  # nothing listens there yet
    rule_to(source.engine, dest)
    uids = source.study(3)
    assert {t["status"] for t in _tasks(source)} == {"pending"}

    assert source.service.run_once() == 3  # refused: back to waiting, with a back-off
    tasks = _tasks(source)
    assert {t["status"] for t in tasks} == {"pending"}
    assert all("refused" in str(t["last_error"]) or "Error" in str(t["last_error"]) for t in tasks)
    soonest = min(datetime.fromisoformat(str(t["next_attempt_at"])) for t in tasks)
    assert soonest > clock.now() + timedelta(seconds=30)  # SLOW_RETRY: 60 s less jitter
    assert source.service.run_once() == 0  # not due yet: nothing tried

    store_scp.start()
    queue.JOBS.due_now(source.engine)  # the back-off over (as the admin's "retry now")
    assert source.service.run_once() == 3
    assert {t["status"] for t in _tasks(source)} == {"sent"}
    assert sorted(store_scp.received) == sorted(uids)
    assert store_scp.stores == 3  # each went once
    assert source.service.run_once() == 0
    assert any(e["action"] == "sent" for e in source.events)  # the page's live refresh


def test_storescp_receives_identical_pixels(sqlite_source: Source, storescp: Storescp) -> None:
    source = sqlite_source
    dest = dicom_destination(source.engine, storescp.port)
    rule_to(source.engine, dest, modality="CT")
    plain = make_ct(size=32)
    packed = codecs.compressed(make_ct(size=32, instance_number=3), codecs.Target(JPEGLSLossless))
    assert str(packed.file_meta.TransferSyntaxUID) == str(JPEGLSLossless)
    originals = {source.store(plain): plain, source.store(packed): packed}

    assert source.service.run_once() == 2
    assert {t["status"] for t in _tasks(source)} == {"sent"}
    arrived = {str(d.SOPInstanceUID): d for d in map(dcmread, storescp.folder.iterdir())}
    assert set(arrived) == set(originals)
    for uid, original in originals.items():
        assert np.array_equal(arrived[uid].pixel_array, original.pixel_array)
    # storescp takes uncompressed syntaxes only: the JPEG-LS object was decompressed for it.
    assert str(arrived[str(packed.SOPInstanceUID)].file_meta.TransferSyntaxUID) in (
        codecs.UNCOMPRESSED
    )


def test_dead_letter_then_requeue(source: Source, store_scp: StoreSCP) -> None:
    dest = dicom_destination(source.engine, store_scp.port)
    rule_to(source.engine, dest)
    (uid,) = source.study(1)
    for _ in range(3):  # SLOW_RETRY gives three tries
        assert source.service.run_once() == 1
        queue.JOBS.due_now(source.engine)
    (task,) = _tasks(source)
    assert task["status"] == "dead" and task["attempts"] == 3
    assert task["last_error"]
    assert source.service.run_once() == 0  # a dead letter stays put

    store_scp.start()
    assert queue.requeue_dead(source.engine, dest.id) == 1
    assert source.service.run_once() == 1
    (task,) = _tasks(source)
    assert task["status"] == "sent" and task["attempts"] == 1 and task["last_error"] == ""
    assert list(store_scp.received) == [uid]


def test_object_gone_is_a_dead_letter(source: Source, store_scp: StoreSCP) -> None:
    """A task whose instance left the archive (deleted, rejected) is dead at once."""
    store_scp.start()
    dest = dicom_destination(source.engine, store_scp.port)
    queue.enqueue(
        source.engine, [queue.Item(dest.id, "1.2.3.4.5", "1.2.840.10008.5.1.4.1.1.2", "9")]
    )
    assert source.service.run_once() == 1
    with db.read(source.engine) as conn:
        row = conn.execute(select(forwarding_tasks)).one()
    assert row.status == "dead" and "no longer in the archive" in row.last_error
    assert not store_scp.received


def test_registered_modality_over_tls(tmp_path: Path, store_scp: StoreSCP) -> None:
    """A destination without a host goes to the registered modality of its AE title, over
    DICOM TLS when the modality says so: the peer's certificate checked against the CA."""
    files = Files(
        tmp_path / "tls" / "server.pem",
        tmp_path / "tls" / "server.key",
        tmp_path / "tls" / "ca.pem",
    )
    certificates.init(files, ["localhost", "127.0.0.1"])
    store_scp.start(tls=server_context(files, dicom=False))
    for source in open_source(f"sqlite:///{tmp_path / 'tls.db'}", tmp_path, tls_files=files):
        add_modality(source.engine, Modality("DEST", "127.0.0.1", store_scp.port, tls=True))
        dest = config.save_destination(
            source.engine, config.Destination("peer", "dicom", ae_title="DEST")
        )
        rule_to(source.engine, dest)
        assert source.service.test(dest.id) is None  # C-ECHO over TLS
        uids = source.study(2)
        assert source.service.run_once() == 2
        assert {t["status"] for t in _tasks(source)} == {"sent"}
        assert sorted(store_scp.received) == sorted(uids)


def test_workers_never_split_a_study(source: Source) -> None:
    """Eight threads claiming at once each get whole studies (one association per study)."""
    dest = dicom_destination(source.engine, 1)
    items = [
        queue.Item(dest.id, f"1.2.{s}.{n}", "1.2.840.10008.5.1.4.1.1.2", f"9.{s}")
        for s in range(20)
        for n in range(5)
    ]
    assert queue.enqueue(source.engine, items) == 100
    batches: list[list[queue.Task]] = []
    start = threading.Barrier(8)

    def claim(owner: str) -> None:
        start.wait()
        while batch := queue.claim_batch(source.engine, owner, timedelta(minutes=5), 50):
            batches.append(batch)

    threads = [threading.Thread(target=claim, args=(f"w{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    studies = [{t.study_instance_uid for t in batch} for batch in batches]
    assert all(len(s) == 1 for s in studies)
    assert sorted(next(iter(s)) for s in studies) == sorted(f"9.{s}" for s in range(20))
    assert sum(len(b) for b in batches) == 100
