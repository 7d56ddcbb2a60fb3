"""Storage commitment (Push Model) after a batch's C-STOREs: a peer that reports on the same
association commits the tasks; one that never reports leaves them ``sent`` with their
Transaction UID, for a report that comes later (``Forwarding.on_report``) or, failing that,
a re-send that asks again (``queue.recommit``)."""

from __future__ import annotations

from datetime import timedelta

from core_server.storage.forwarding import queue
from tests.core_server.storage.forwarding.conftest import (
    Source,
    StoreSCP,
    dicom_destination,
    rule_to,
)


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
