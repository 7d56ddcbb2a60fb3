"""Storage commitment (push model) against a running core, with pynetdicom as the requestor:
the report on the same association, on a new association to the requestor's registered
host/port, and the truth about what is on disk."""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydicom import Dataset
from pydicom.uid import CTImageStorage, generate_uid
from pynetdicom import AE, evt
from pynetdicom.sop_class import StorageCommitmentPushModel

from tests.conftest import RunningCore, free_port
from tests.core_server.dicom.clients import associate, client_ae, dcmtk, nodelay, peer
from tests.dicom_data import make_ct, write

INSTANCE = "1.2.840.10008.1.20.1.1"  # the well-known Storage Commitment Push Model instance
NO_SUCH_OBJECT_INSTANCE = 0x0112
PROCESSING_FAILURE = 0x0110
CLASS_INSTANCE_CONFLICT = 0x0119


@dataclass
class Report:
    event_type: int
    dataset: Dataset
    calling_ae_title: str

    def referenced(self) -> set[str]:
        return {
            str(i.ReferencedSOPInstanceUID) for i in self.dataset.get("ReferencedSOPSequence", [])
        }

    def failed(self) -> dict[str, int]:
        return {
            str(i.ReferencedSOPInstanceUID): int(i.FailureReason)
            for i in self.dataset.get("FailedSOPSequence", [])
        }


def receiver(reports: queue.Queue[Report]) -> Callable[[evt.Event], tuple[int, None]]:
    """An N-EVENT-REPORT handler that keeps each report."""

    def on_report(event: evt.Event) -> tuple[int, None]:
        reports.put(
            Report(
                event.event_type,
                event.event_information,
                event.assoc.requestor.ae_title.strip()
                if event.assoc.is_acceptor
                else event.assoc.acceptor.ae_title.strip(),
            )
        )
        return 0x0000, None

    return on_report


def store(core: RunningCore, folder: Path, count: int) -> list[Dataset]:
    objects = [make_ct(instance_number=n) for n in range(1, count + 1)]
    dcmtk("storescu", *peer(core), *(write(ds, folder) for ds in objects))
    return objects


def action(uids: list[tuple[str, str]], transaction: str) -> Dataset:
    info = Dataset()
    info.TransactionUID = transaction
    items = []
    for sop_class, sop_instance in uids:
        item = Dataset()
        item.ReferencedSOPClassUID = sop_class
        item.ReferencedSOPInstanceUID = sop_instance
        items.append(item)
    info.ReferencedSOPSequence = items
    return info


def request_commitment(
    core: RunningCore,
    references: list[tuple[str, str]],
    reports: queue.Queue[Report],
    *,
    wait_on_association: bool,
) -> str:
    """N-ACTION from the AE title MODALITY; keeps the association open for the report, or
    releases it as soon as the N-ACTION response is in. Returns the Transaction UID."""
    ae = client_ae("MODALITY")
    ae.add_requested_context(StorageCommitmentPushModel)
    assoc = associate(ae, core, evt_handlers=[(evt.EVT_N_EVENT_REPORT, receiver(reports))])
    transaction = generate_uid()
    try:
        status, _ = assoc.send_n_action(
            action(references, transaction), 1, StorageCommitmentPushModel, INSTANCE
        )
        assert status.Status == 0x0000
        if wait_on_association:
            report = reports.get(timeout=10)
            reports.put(report)  # for the caller
    finally:
        assoc.release()
    return transaction


def test_report_on_the_same_association(core: RunningCore, tmp_path: Path) -> None:
    stored = store(core, tmp_path, 2)
    unknown = generate_uid()
    references = [(CTImageStorage, ds.SOPInstanceUID) for ds in stored]
    references.append((CTImageStorage, unknown))
    reports: queue.Queue[Report] = queue.Queue()

    transaction = request_commitment(core, references, reports, wait_on_association=True)

    report = reports.get_nowait()
    assert report.event_type == 2  # some failed
    assert report.dataset.TransactionUID == transaction
    assert report.referenced() == {ds.SOPInstanceUID for ds in stored}
    assert report.failed() == {unknown: NO_SUCH_OBJECT_INSTANCE}
    assert report.dataset.RetrieveAETitle == core.ae_title
    assert all(
        item.ReferencedSOPClassUID == CTImageStorage
        for item in report.dataset.ReferencedSOPSequence
    )


def test_all_committed_is_event_type_1(core: RunningCore, tmp_path: Path) -> None:
    stored = store(core, tmp_path, 3)
    reports: queue.Queue[Report] = queue.Queue()
    request_commitment(
        core,
        [(CTImageStorage, ds.SOPInstanceUID) for ds in stored],
        reports,
        wait_on_association=True,
    )
    report = reports.get_nowait()
    assert report.event_type == 1
    assert report.referenced() == {ds.SOPInstanceUID for ds in stored}
    assert "FailedSOPSequence" not in report.dataset


@pytest.fixture
def modality_scp(core: RunningCore) -> Iterator[queue.Queue[Report]]:
    """The modality's own storage commitment SCU endpoint: a pynetdicom AE listening on the
    host/port registered for MODALITY, taking the N-EVENT-REPORT the archive sends as SCP."""
    reports: queue.Queue[Report] = queue.Queue()
    port = free_port()
    ae = AE(ae_title="MODALITY")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    # the archive asks for the SCP role on this association (role selection)
    ae.add_supported_context(StorageCommitmentPushModel, scu_role=True, scp_role=True)
    server = ae.start_server(
        ("127.0.0.1", port),
        block=False,
        evt_handlers=[(evt.EVT_CONN_OPEN, nodelay), (evt.EVT_N_EVENT_REPORT, receiver(reports))],
    )
    core.register("MODALITY", port=port)
    try:
        yield reports
    finally:
        server.shutdown()


def test_report_on_a_new_association_after_release(
    core: RunningCore, tmp_path: Path, modality_scp: queue.Queue[Report]
) -> None:
    stored = store(core, tmp_path, 2)
    unknown = generate_uid()
    references = [(CTImageStorage, ds.SOPInstanceUID) for ds in stored]
    references.append((CTImageStorage, unknown))
    on_own_association: queue.Queue[Report] = queue.Queue()

    transaction = request_commitment(
        core, references, on_own_association, wait_on_association=False
    )

    report = modality_scp.get(timeout=15)
    assert report.calling_ae_title == core.ae_title  # the archive called us
    assert report.event_type == 2
    assert report.dataset.TransactionUID == transaction
    assert report.referenced() == {ds.SOPInstanceUID for ds in stored}
    assert report.failed() == {unknown: NO_SUCH_OBJECT_INSTANCE}
    assert on_own_association.empty()  # and not also on the released one
    assert modality_scp.empty()  # exactly one report


def test_commitment_tells_the_truth_about_the_disk(core: RunningCore, tmp_path: Path) -> None:
    kept, lost = store(core, tmp_path, 2)
    (answer,) = core.core.archive.find("IMAGE", {"SOPInstanceUID": lost.SOPInstanceUID})
    core.core.archive.storage.absolute(answer["_path"]).unlink()  # behind the archive's back
    reports: queue.Queue[Report] = queue.Queue()

    request_commitment(
        core,
        [
            (CTImageStorage, kept.SOPInstanceUID),
            (CTImageStorage, lost.SOPInstanceUID),
            ("1.2.840.10008.5.1.4.1.1.4", kept.SOPInstanceUID),  # the wrong class
        ],
        reports,
        wait_on_association=True,
    )

    report = reports.get_nowait()
    assert report.event_type == 2
    assert report.referenced() == {kept.SOPInstanceUID}
    assert report.failed() == {
        lost.SOPInstanceUID: PROCESSING_FAILURE,
        kept.SOPInstanceUID: CLASS_INSTANCE_CONFLICT,
    }
