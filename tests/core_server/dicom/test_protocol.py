"""The DICOM port against hostile and careless clients (raw sockets against the real server),
and the defects integrators met: ARTIM, malformed PDUs, protocol version, a full disk, a bad
VR, the overwrite permission, storage commitment without a Transaction UID, Source AE Title."""

from __future__ import annotations

import errno
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import Dataset, dcmread
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian
from pynetdicom import _config
from pynetdicom.pdu import A_ASSOCIATE_RQ
from pynetdicom.pdu_primitives import A_ASSOCIATE
from pynetdicom.presentation import build_context
from pynetdicom.sop_class import StorageCommitmentPushModel

from core_server import auth
from core_server.archive import storage
from tests.conftest import RunningCore
from tests.core_server.archive.malformed import unknown_vr
from tests.core_server.dicom.clients import associate, client_ae, dcmtk, peer
from tests.dicom_data import encode, make_ct, write


@pytest.fixture
def quick(tmp_path: Path) -> Iterator[RunningCore]:
    """A core whose ARTIM timer runs out after a second."""
    running = RunningCore(tmp_path / "data", dicom_artim_timeout=1.0).start()
    try:
        yield running
    finally:
        running.stop()


def connect(core: RunningCore) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", core.dicom_port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    got = b""
    while chunk := sock.recv(65536):
        got += chunk
    return got


def request(version: int = 1) -> bytes:
    primitive = A_ASSOCIATE()
    primitive.application_context_name = "1.2.840.10008.3.1.1.1"
    primitive.calling_ae_title = "RAW"
    primitive.called_ae_title = "PACS"
    context = build_context(CTImageStorage, ExplicitVRLittleEndian)
    context.context_id = 1
    primitive.presentation_context_definition_list = [context]
    primitive.user_information = []
    pdu = A_ASSOCIATE_RQ()
    pdu.from_primitive(primitive)
    data = bytearray(pdu.encode())
    data[6:8] = struct.pack(">H", version)
    return bytes(data)


def is_abort(data: bytes) -> bool:
    return data[:1] == b"\x07" and len(data) == 10


@pytest.mark.parametrize(
    "sent",
    [
        b"\x09\x00\x00\x00\x00\x04\x00\x00\x00\x00",  # unknown PDU type 0x09
        b"\x01\x00\xf0\x00\x00\x00" + b"\x00" * 64,  # an A-ASSOCIATE-RQ declaring 3.75 GB
        request()[:40],  # a request cut short (the rest never comes)
        b"\x01\x00\x00\x00\x00\x10" + b"\xff" * 16,  # a request that cannot be decoded
    ],
    ids=["type-9", "4-gigabytes", "half-sent", "garbage"],
)
def test_malformed_starts_get_an_abort_and_the_socket_is_closed(
    quick: RunningCore, sent: bytes
) -> None:
    with connect(quick) as sock:
        sock.sendall(sent)
        started = time.monotonic()
        assert is_abort(answer(sock))
        assert time.monotonic() - started < 5  # within the ARTIM time, not the network one
    dcmtk("echoscu", *peer(quick))  # and the server goes on


def test_protocol_version_0_is_rejected(quick: RunningCore) -> None:
    with connect(quick) as sock:
        sock.sendall(request(version=0))
        data = answer(sock)
    # A-ASSOCIATE-RJ: rejected-permanent, DICOM UL service provider (ACSE), protocol version
    assert data[:1] == b"\x03" and data[7:10] == b"\x01\x02\x02"
    with connect(quick) as sock:  # version 1 is accepted
        sock.sendall(request(version=1))
        assert sock.recv(1) == b"\x02"


def test_idle_connections_are_closed_and_do_not_slow_accepting(quick: RunningCore) -> None:
    idle = [connect(quick) for _ in range(12)]
    try:
        started = time.monotonic()
        for _ in range(3):
            dcmtk("echoscu", *peer(quick))
        assert (time.monotonic() - started) / 3 < 1.0
        time.sleep(1.5)  # past the ARTIM timeout
        for sock in idle:
            sock.settimeout(2)
            assert answer(sock) == b""  # closed by the server, nothing said (PS3.8 AA-2)
    finally:
        for sock in idle:
            sock.close()


@pytest.fixture(params=["direct", "pynetdicom"])
def either(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningCore]:
    """A core whose storage associations take the direct path, or pynetdicom's."""
    running = RunningCore(tmp_path / "data", dicom_direct_path=request.param == "direct").start()
    try:
        yield running
    finally:
        running.stop()


def test_a_full_disk_is_out_of_resources_and_the_association_goes_on(
    either: RunningCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = storage.Incoming.write

    def full(self: storage.Incoming, data: bytes | memoryview) -> None:
        self.discard()
        raise OSError(errno.ENOSPC, "No space left on device")

    ae = client_ae()
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    assoc = associate(ae, either)
    try:
        monkeypatch.setattr(storage.Incoming, "write", full)
        found = assoc.send_c_store(make_ct(patient_id="FULL"))
        assert found.Status == 0xA700 and "storage full" in found.ErrorComment
        monkeypatch.setattr(storage.Incoming, "write", real)
        assert assoc.send_c_store(make_ct(patient_id="ROOM")).Status == 0x0000
    finally:
        assoc.release()
    assert either.core.archive.count("IMAGE", {}) == 1
    assert list(either.core.archive.storage.incoming.iterdir()) == []


def test_a_bad_vr_is_cannot_understand_not_out_of_resources(
    either: RunningCore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_config, "STORE_SEND_CHUNKED_DATASET", True)  # the bytes as they are
    path = tmp_path / "zz.dcm"
    path.write_bytes(unknown_vr())
    ae = client_ae()
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    assoc = associate(ae, either)
    try:
        found = assoc.send_c_store(path)
        assert found.Status == 0xC000 and "unknown VR 'ZZ'" in found.ErrorComment
    finally:
        assoc.release()
    assert either.core.archive.count("IMAGE", {}) == 0


def test_replacing_an_archived_object_needs_the_overwrite_permission(
    either: RunningCore, tmp_path: Path
) -> None:
    first = make_ct(patient_id="ORIGINAL")
    forged = make_ct(
        patient_id="ORIGINAL",
        sop_uid=first.SOPInstanceUID,
        study_uid=first.StudyInstanceUID,
        series_uid=first.SeriesInstanceUID,
        instance_number=9,
    )
    dcmtk("storescu", "-aet", "ANYONE", *peer(either), write(first, tmp_path / "a"))
    forged_path = write(forged, tmp_path / "b")
    refused = dcmtk("storescu", "-v", "-aet", "ANYONE", *peer(either), forged_path, check=False)
    assert "Error: CannotUnderstand" in refused.stderr  # 0xC409
    (image,) = either.core.archive.find("IMAGE", {"SOPInstanceUID": first.SOPInstanceUID})
    assert image["InstanceNumber"] == 1
    either.register("FIXER", allow_overwrite=True)
    dcmtk("storescu", "-aet", "FIXER", *peer(either), forged_path)
    (image,) = either.core.archive.find("IMAGE", {"SOPInstanceUID": first.SOPInstanceUID})
    assert image["InstanceNumber"] == 9
    assert len(either.core.archive.versions(first.SOPInstanceUID)) == 2  # the older one kept
    total, events = auth.query_audit(either.core.engine, action="archive.instance_replaced")
    assert total == 1 and events[0].detail["ae_title"] == "FIXER"
    assert events[0].target == f"study:{first.StudyInstanceUID}"


def test_stored_file_meta_names_the_sender(either: RunningCore, tmp_path: Path) -> None:
    ds = make_ct(patient_id="SOURCE")
    dcmtk("storescu", "-aet", "CT_ROOM_3", *peer(either), write(ds, tmp_path))
    (found,) = either.core.archive.locate({"SOPInstanceUID": ds.SOPInstanceUID})
    stored = dcmread(found.path)
    assert stored.file_meta.SourceApplicationEntityTitle == "CT_ROOM_3"
    assert stored.PatientID == "SOURCE"
    assert found.path.read_bytes().endswith(encode(ds)[-len(ds.PixelData) :])


def test_storage_commitment_without_a_transaction_uid_is_missing_attribute(
    core: RunningCore,
) -> None:
    ae = client_ae("MODALITY")
    ae.add_requested_context(StorageCommitmentPushModel)
    assoc = associate(ae, core)
    try:
        info = Dataset()
        item = Dataset()
        item.ReferencedSOPClassUID = CTImageStorage
        item.ReferencedSOPInstanceUID = "1.2.3"
        info.ReferencedSOPSequence = [item]
        found, _ = assoc.send_n_action(
            info, 1, StorageCommitmentPushModel, "1.2.840.10008.1.20.1.1"
        )
        assert found.Status == 0x0120
        assert "Transaction UID" in found.ErrorComment
    finally:
        assoc.release()
