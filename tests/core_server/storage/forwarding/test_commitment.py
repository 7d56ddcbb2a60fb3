"""Storage commitment (Push Model) after a batch's C-STOREs: a peer that reports on the same
association commits the tasks; one that never reports leaves them ``sent`` with their
Transaction UID, for a report that comes later (``Forwarding.on_report``) or, failing that,
a re-send that asks again (``queue.recommit``); a report on an association the peer opens to
the core's own AE (through the core's DICOM listener)."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from pydicom.uid import generate_uid

from core_server.archive import Origin
from core_server.storage.forwarding import queue
from core_server.storage.forwarding.service import take_report
from tests.conftest import RunningCore
from tests.core_server.storage.forwarding.conftest import (
    Source,
    StoreSCP,
    dicom_destination,
    rule_to,
)
from tests.dicom_data import encode, make_ct


def test_report_on_the_same_association_commits(source: Source, store_scp: StoreSCP) -> None:
    store_scp.commit = "same"
    store_scp.start()
    dest = dicom_destination(source.engine, store_scp.port, commitment=True)
    rule_to(source.engine, dest)
    uids = source.study(3)

    assert source.service.run_once() == 3
    tasks = queue.listed(source.engine)
    assert {t["status"] for t in tasks} == {"committed"}
    assert all(t["committed_at"] for t in tasks)
    (request,) = store_scp.requests
    asked = {str(i.ReferencedSOPInstanceUID) for i in request.ReferencedSOPSequence}
    assert asked == set(uids)
    assert source.service.run_once() == 0


def test_unanswered_commitment_is_reported_later_or_asked_again(
    source: Source, store_scp: StoreSCP
) -> None:
    store_scp.commit = "never"
    store_scp.start()
    source.service.commit_wait = 1.0  # the peer will not report here: do not wait 30 s
    dest = dicom_destination(source.engine, store_scp.port, commitment=True)
    rule_to(source.engine, dest)
    first, second = source.study(2)

    assert source.service.run_once() == 2
    assert {t["status"] for t in queue.listed(source.engine)} == {"sent"}
    (request,) = store_scp.requests
    transaction = str(request.TransactionUID)

    # A report for another transaction changes nothing; this one's commits what it names.
    assert source.service.on_report("1.2.3.999", [first], []) == 0
    assert source.service.on_report(transaction, [first], [second]) == 2
    by_uid = {t["sop_instance_uid"]: t for t in queue.listed(source.engine)}
    assert by_uid[first]["status"] == "committed"
    assert by_uid[second]["status"] == "pending"  # the peer lost it: sent again

    assert source.service.run_once() == 1
    assert store_scp.stores == 3  # the second object twice: a second C-STORE is allowed
    assert queue.recommit(source.engine, [dest.id], timedelta(0)) == 1  # never answered
    assert source.service.run_once() == 1
    assert len(store_scp.requests) == 3  # commitment asked anew each time
    assert queue.listed(source.engine, status="committed")[0]["sop_instance_uid"] == first


def test_report_from_the_listener_commits(source: Source, store_scp: StoreSCP) -> None:
    """A report the core's DICOM listener takes (``take_report``) after the batch was
    recorded commits its tasks; one for an unknown transaction changes nothing."""
    store_scp.commit = "never"
    store_scp.start()
    source.service.commit_wait = 1.0
    dest = dicom_destination(source.engine, store_scp.port, commitment=True)
    rule_to(source.engine, dest)
    uids = source.study(2)
    assert source.service.run_once() == 2
    (request,) = store_scp.requests
    report = {"transaction_uid": "1.2.3", "committed": uids, "failed": []}
    assert take_report(source.engine, source.bus, report) == 0
    assert {t["status"] for t in queue.listed(source.engine)} == {"sent"}
    transaction = str(request.TransactionUID)
    assert take_report(source.engine, source.bus, {**report, "transaction_uid": transaction}) == 2
    assert {t["status"] for t in queue.listed(source.engine)} == {"committed"}


def test_report_before_its_batch_is_recorded_is_kept(source: Source) -> None:
    """A report that reaches another process while the batch is still being recorded (its
    tasks not yet ``sent``) is kept in the database; the batch takes it once recorded."""
    dest = dicom_destination(source.engine, 9, commitment=True)
    rule_to(source.engine, dest)
    uids = source.study(2)
    batch = queue.claim_batch(source.engine, "other-process", timedelta(minutes=5), 10)
    assert sorted(t.sop_instance_uid for t in batch) == sorted(uids)
    report = {"transaction_uid": "1.2.77", "committed": uids, "failed": []}
    assert take_report(source.engine, source.bus, report) == 0  # still running: kept
    assert queue.record_done(source.engine, batch, "other-process", queue.SENT, "1.2.77") == 2
    source.service._late_report("1.2.77")
    assert {t["status"] for t in queue.listed(source.engine)} == {"committed"}
    assert queue.kept_report(source.engine, "1.2.77") is None  # taken once


def test_report_on_a_new_association_to_the_core(tmp_path: Path, store_scp: StoreSCP) -> None:
    """The peer answers on an association it opens to the core's AE, while the batch still
    waits on its own: the running core's forwarding commits the tasks."""
    core = RunningCore(tmp_path / "core").start()
    try:
        service = core.core.lifecycle.forwarding
        service.commit_wait = 30.0  # the report comes meanwhile on the other association
        store_scp.commit = "later"
        store_scp.report_to = ("127.0.0.1", core.dicom_port, core.ae_title)
        store_scp.start()
        dest = dicom_destination(service.engine, store_scp.port, commitment=True)
        rule_to(service.engine, dest)
        service.matcher.forget()
        study = generate_uid()
        uids = [
            core.core.archive.store_instance(
                encode(make_ct(study_uid=study, instance_number=n)), Origin("dimse", "CT1")
            ).sop_instance_uid
            for n in range(2)
        ]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if {t["status"] for t in queue.listed(service.engine)} == {"committed"}:
                break
            time.sleep(0.1)
        tasks = queue.listed(service.engine)
        assert {t["sop_instance_uid"] for t in tasks} == set(uids)
        assert {t["status"] for t in tasks} == {"committed"}
        # One report per batch (the first object may go alone), each answered Success.
        assert store_scp.reported and {int(s.Status) for s in store_scp.reported} == {0}
    finally:
        core.stop()
