"""Our own DICOM associations over TLS: a C-MOVE to a destination registered with ``tls``
reaches it over TLS (its certificate from the core's CA), on both paths; a destination whose
certificate another CA signed gets nothing, the request fails at once with the reason and the
refusal is in the audit trail; a storage commitment report to a requestor marked ``tls`` goes
over TLS too."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from pydicom import Dataset
from pynetdicom import AE, build_role, evt
from pynetdicom.sop_class import (
    CTImageStorage,
    ModalityWorklistInformationFind,
    StorageCommitmentPushModel,
    StudyRootQueryRetrieveInformationModelMove,
)

from core_server import auth
from core_server.tls import Files, certificates
from tests.dicom_data import make_ct

from .conftest import NAMES, TlsCore

STUDY = "1.2.826.0.1.3680043.8.498.1917"


class TlsStoreScp:
    """A storage SCP (and commitment report receiver) behind TLS with the given certificate;
    records what it received and the TLS version of each association."""

    def __init__(self, files: Files) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(files.cert, files.key)
        self.received: list[str] = []
        self.versions: list[str] = []
        self.reports: list[Dataset] = []
        self.reported = threading.Event()
        ae = AE(ae_title="DEST")
        ae.add_supported_context(CTImageStorage)
        ae.add_supported_context(StorageCommitmentPushModel, scu_role=True, scp_role=True)
        self.server = ae.start_server(
            ("127.0.0.1", 0),
            block=False,
            ssl_context=context,
            evt_handlers=[
                (evt.EVT_C_STORE, self._store),
                (evt.EVT_N_EVENT_REPORT, self._report),
            ],
        )
        self.port = self.server.server_address[1]

    def _tls(self, event: evt.Event) -> None:
        sock: Any = event.assoc.dul.socket.socket
        self.versions.append(str(sock.version()) if isinstance(sock, ssl.SSLSocket) else "clear")

    def _store(self, event: evt.Event) -> int:
        self._tls(event)
        self.received.append(str(event.request.AffectedSOPInstanceUID))
        return 0x0000

    def _report(self, event: evt.Event) -> tuple[int, None]:
        self._tls(event)
        self.reports.append(event.event_information)
        self.reported.set()
        return 0x0000, None

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="module")
def destinations(
    tls_core: TlsCore, stranger_ca: Files, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TlsStoreScp, TlsStoreScp]]:
    folder = tmp_path_factory.mktemp("dest")
    # Signed by the core's own CA (its ca.key beside tls_ca): trusted.
    trusted = Files(folder / "dest.pem", folder / "dest.key", tls_core.files.ca)
    certificates.issue(trusted, NAMES)
    good, bad = TlsStoreScp(trusted), TlsStoreScp(stranger_ca)
    with tls_core.api() as admin:
        for ae, port, tls in (("MOVER", 104, False), ("DEST", good.port, True)):
            body = {"ae_title": ae, "host": "127.0.0.1", "port": port, "tls": tls}
            assert admin.post("/api/modalities", json=body).status_code == 201
        body = {"ae_title": "STRANGE", "host": "127.0.0.1", "port": bad.port, "tls": True}
        assert admin.post("/api/modalities", json=body).json()["tls"] is True
    yield good, bad
    good.close()
    bad.close()


def _requestor(tls_core: TlsCore, *, pynetdicom_path: bool = False) -> Any:
    ae = AE(ae_title="MOVER")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
    ae.add_requested_context(CTImageStorage)
    if pynetdicom_path:  # the direct path does not serve the worklist: pynetdicom takes it
        ae.add_requested_context(ModalityWorklistInformationFind)
    client = ssl.create_default_context(cafile=tls_core.ca)
    assoc = ae.associate(
        "127.0.0.1",
        tls_core.settings.dicom_tls_port,
        ae_title="PACS",
        tls_args=(client, "localhost"),
    )
    assert assoc.is_established
    return assoc


def _stored(tls_core: TlsCore) -> None:
    if tls_core.core.archive.locate({"StudyInstanceUID": STUDY}):
        return
    assoc = _requestor(tls_core)
    for i in (1, 2):
        ct = make_ct(study_uid=STUDY, sop_uid=f"{STUDY}.{i}", instance_number=i)
        assert assoc.send_c_store(ct).Status == 0x0000
    assoc.release()


def _move(tls_core: TlsCore, destination: str, **options: bool) -> list[Dataset]:
    _stored(tls_core)
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = STUDY
    assoc = _requestor(tls_core, **options)
    try:
        return [
            status
            for status, _ in assoc.send_c_move(
                identifier, destination, StudyRootQueryRetrieveInformationModelMove
            )
        ]
    finally:
        assoc.release()


@pytest.mark.parametrize("pynetdicom_path", [False, True], ids=["direct", "pynetdicom"])
def test_a_c_move_reaches_a_tls_destination_over_tls(
    tls_core: TlsCore, destinations: tuple[TlsStoreScp, TlsStoreScp], pynetdicom_path: bool
) -> None:
    good, _ = destinations
    before = len(good.received)
    statuses = _move(tls_core, "DEST", pynetdicom_path=pynetdicom_path)
    final = statuses[-1]
    assert final.Status == 0x0000 and final.NumberOfCompletedSuboperations == 2
    assert sorted(good.received[before:]) == [f"{STUDY}.1", f"{STUDY}.2"]
    assert set(good.versions) <= {"TLSv1.2", "TLSv1.3"} and good.versions
    _, sent = auth.query_audit(tls_core.core.engine, action="archive.sent")
    ours = [e for e in sent if e.detail["destination"] == "DEST" and e.target == f"study:{STUDY}"]
    assert ours and ours[0].detail["instances"] == 2


def test_an_untrusted_destination_fails_the_sub_operations_with_the_reason(
    tls_core: TlsCore, destinations: tuple[TlsStoreScp, TlsStoreScp]
) -> None:
    _, bad = destinations
    final = _move(tls_core, "STRANGE")[-1]
    assert final.Status == 0xA702
    assert final.NumberOfFailedSuboperations == 2
    assert "certificate verify failed" in final.ErrorComment
    assert bad.received == []
    _, alerts = auth.query_audit(tls_core.core.engine, action="node.authentication_failed")
    assert any(e.detail["where"] == "C-MOVE to STRANGE" for e in alerts)


def test_a_commitment_report_goes_to_a_tls_requestor_over_tls(
    tls_core: TlsCore, destinations: tuple[TlsStoreScp, TlsStoreScp]
) -> None:
    good, _ = destinations
    _stored(tls_core)
    ae = AE(ae_title="DEST")  # registered with tls: the report comes on a new association
    ae.add_requested_context(StorageCommitmentPushModel)
    client = ssl.create_default_context(cafile=tls_core.ca)
    assoc = ae.associate(
        "127.0.0.1",
        tls_core.settings.dicom_tls_port,
        ae_title="PACS",
        ext_neg=[build_role(StorageCommitmentPushModel, scu_role=True)],
        tls_args=(client, "localhost"),
    )
    assert assoc.is_established
    request = Dataset()
    request.TransactionUID = f"{STUDY}.99"
    item = Dataset()
    item.ReferencedSOPClassUID = CTImageStorage
    item.ReferencedSOPInstanceUID = f"{STUDY}.1"
    request.ReferencedSOPSequence = [item]
    answer, _ = assoc.send_n_action(
        request, 1, StorageCommitmentPushModel, "1.2.840.10008.1.20.1.1"
    )
    assoc.release()  # before the report: it must come on an association of its own, over TLS
    assert answer.Status == 0x0000
    assert good.reported.wait(20)
    assert good.reports[-1].TransactionUID == f"{STUDY}.99"
    assert good.versions[-1] in ("TLSv1.2", "TLSv1.3")
