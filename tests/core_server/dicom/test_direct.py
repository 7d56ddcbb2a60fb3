"""The direct storage path: which associations take it, and that they behave as DICOM says."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from pydicom import Dataset, dcmread
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid
from pynetdicom.sop_class import (
    CTImageStorage,
    StorageCommitmentPushModel,
    StudyRootQueryRetrieveInformationModelFind,
    Verification,
)

from core_server.dicom import direct
from tests.conftest import RunningCore, free_port
from tests.core_server.dicom.clients import associate, client_ae, dcmtk, getscu, peer
from tests.core_server.dicom.test_retrieve import wait_listening
from tests.core_server.dicom.test_store import assert_same_elements
from tests.dicom_data import make_ct, write


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Calling AE titles of the associations the direct path served."""
    calls: list[str] = []
    original = direct.DirectAssociation.serve

    def spy(self: direct.DirectAssociation) -> None:
        calls.append(self.calling)
        original(self)

    monkeypatch.setattr(direct.DirectAssociation, "serve", spy)
    return calls


def test_storage_only_associations_take_the_direct_path(
    core: RunningCore, served: list[str], tmp_path: Path
) -> None:
    folder = tmp_path / "send"
    for number in range(1, 4):
        write(make_ct(patient_id="FAST", instance_number=number), folder)
    dcmtk("storescu", "-aet", "MODALITY", "+sd", *peer(core), folder)
    dcmtk("echoscu", "-aet", "MODALITY", *peer(core))
    assert served == ["MODALITY", "MODALITY"]
    assert core.core.archive.count("IMAGE", {"PatientID": "FAST"}) == 3


def test_small_peer_pdus_and_negotiated_syntax(
    core: RunningCore, served: list[str], tmp_path: Path
) -> None:
    folder = tmp_path / "send"
    write(make_ct(patient_id="SMALLPDU", size=128), folder)
    # Implicit VR only, and 4 kB PDUs both ways: many fragments in, a small answer out.
    dcmtk(
        "storescu", "-xi", "--max-pdu", "4096", "--max-send-pdu", "4096", "+sd", *peer(core), folder
    )
    assert served
    (image,) = core.core.archive.find("IMAGE", {"PatientID": "SMALLPDU"})
    assert image["_transfer_syntax_uid"] == ImplicitVRLittleEndian


def test_storage_commitment_stays_with_pynetdicom(core: RunningCore, served: list[str]) -> None:
    """An association that also proposes storage commitment is pynetdicom's, whole."""
    core.register("WORKSTATION")
    ae = client_ae("WORKSTATION")
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    ae.add_requested_context(StorageCommitmentPushModel)
    assoc = associate(ae, core)
    ds = make_ct(patient_id="MIXED")
    assert assoc.send_c_store(ds).Status == 0x0000
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.PatientID = "MIXED"
    query.StudyInstanceUID = ""
    answers = list(assoc.send_c_find(query, StudyRootQueryRetrieveInformationModelFind))
    assoc.release()
    assert [a.StudyInstanceUID for s, a in answers if a is not None] == [ds.StudyInstanceUID]
    assert served == []


def test_an_abort_mid_object_leaves_nothing(core: RunningCore, served: list[str]) -> None:
    ae = client_ae("MODALITY")
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    ae.add_requested_context(Verification)
    assoc = associate(ae, core)
    assert assoc.send_c_echo().Status == 0x0000
    assoc.abort()
    assoc = associate(ae, core)  # the server goes on
    assert assoc.send_c_store(make_ct(patient_id="AFTER")).Status == 0x0000
    assoc.release()
    assert served == ["MODALITY", "MODALITY"]
    assert core.core.archive.count("IMAGE", {"PatientID": "AFTER"}) == 1
    assert list(core.core.archive.storage.incoming.iterdir()) == []


def test_c_get_takes_the_direct_path_and_sends_the_stored_bytes(
    core: RunningCore, served: list[str], tmp_path: Path
) -> None:
    core.register("VIEWER")
    sent = [write(make_ct(patient_id="GETME", instance_number=n), tmp_path / "in") for n in (1, 2)]
    dcmtk("storescu", "-aet", "MODALITY", "+sd", *peer(core), tmp_path / "in")
    out = tmp_path / "out"
    received = getscu(core, out, "-aet", "VIEWER", QueryRetrieveLevel="PATIENT", PatientID="GETME")
    assert served == ["MODALITY", "VIEWER"]
    by_uid = {dcmread(path).SOPInstanceUID: path for path in received}
    assert len(by_uid) == 2
    for original in sent:
        assert_same_elements(original, by_uid[dcmread(original).SOPInstanceUID])


def test_c_move_takes_the_direct_path_and_sends_the_stored_bytes(
    core: RunningCore, served: list[str], tmp_path: Path
) -> None:
    port = free_port()
    received = tmp_path / "dest"
    received.mkdir()
    storescp = subprocess.Popen(
        ["storescp", "-aet", "DEST", "-od", str(received), str(port)],
        env={**os.environ, "TCP_NODELAY": "1"},
    )
    try:
        wait_listening(port, storescp)  # type: ignore[arg-type]
        core.register("DEST", port=port)
        core.register("VIEWER")
        study = generate_uid()
        sent = [
            write(make_ct(patient_id="MOVEME", study_uid=study, instance_number=n), tmp_path / "in")
            for n in (1, 2)
        ]
        dcmtk("storescu", "-aet", "MODALITY", "+sd", *peer(core), tmp_path / "in")
        log = dcmtk(
            "movescu",
            "-v",
            "-S",
            "-aet",
            "VIEWER",
            "-aem",
            "DEST",
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            f"StudyInstanceUID={study}",
            *peer(core),
        ).stderr
        assert "Received Final Move Response (Success)" in log
        assert served == ["MODALITY", "VIEWER"]
        by_uid = {dcmread(path).SOPInstanceUID: path for path in received.iterdir()}
        assert len(by_uid) == 2, sorted(received.iterdir())
        for original in sent:
            assert_same_elements(original, by_uid[dcmread(original).SOPInstanceUID])
        unknown = dcmtk(
            "movescu",
            "-v",
            "-S",
            "-aet",
            "VIEWER",
            "-aem",
            "NOWHERE",
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            f"StudyInstanceUID={study}",
            *peer(core),
            check=False,
        ).stderr
        assert "Received Final Move Response (Refused: MoveDestinationUnknown)" in unknown
    finally:
        storescp.terminate()
        storescp.wait(timeout=10)


def test_a_silent_peer_is_dropped_after_the_network_timeout(tmp_path: Path) -> None:
    """The direct path's sockets time out in the kernel (SO_RCVTIMEO): a peer that stops in the
    middle of a PDU loses its association, nothing is stored, and the server goes on."""
    core = RunningCore(tmp_path / "data", dicom_network_timeout=1.0).start()
    try:
        ae = client_ae("STALLER")
        ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
        assoc = associate(ae, core)
        sock = assoc.dul.socket.socket
        sock.sendall(b"\x04\x00\x00\x01\x00\x00")  # a P-DATA-TF of 64 kB, of which nothing comes
        deadline = time.monotonic() + 10
        while assoc.is_established and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not assoc.is_established, "the server kept a silent association open"
        assert time.monotonic() < deadline
        after = associate(ae, core)
        assert after.send_c_store(make_ct(patient_id="AFTER-STALL")).Status == 0x0000
        after.release()
        assert core.core.archive.count("IMAGE", {}) == 1
        assert list(core.core.archive.storage.incoming.iterdir()) == []
    finally:
        core.stop()


def test_one_association_leaves_no_file_behind_between_stores(
    core: RunningCore, served: list[str]
) -> None:
    """The next object's incoming file is made ahead while the peer prepares it; the spare is
    used by the next C-STORE and removed when the association ends."""
    ae = client_ae("MODALITY")
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    assoc = associate(ae, core)
    for number in range(3):
        assert assoc.send_c_store(make_ct(patient_id=f"SPARE{number}")).Status == 0x0000
        # at most the one spare waits, empty, for the next object
        waiting = list(core.core.archive.storage.incoming.iterdir())
        assert len(waiting) <= 1 and all(p.stat().st_size == 0 for p in waiting)
    assoc.release()
    assert served == ["MODALITY"]
    assert core.core.archive.count("IMAGE", {}) == 3
    deadline = time.monotonic() + 5
    while list(core.core.archive.storage.incoming.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(core.core.archive.storage.incoming.iterdir()) == []
