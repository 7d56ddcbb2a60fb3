"""The DICOM side's audit entries, through the running ATNA sender to the test repository as
schema-valid messages: a C-FIND is one ``dicom.query`` (Query, 110112) however often the same
query comes within a minute; a C-MOVE is one ``archive.sent`` per study (Instances
Transferred, 110104 R) with the destination and count; a refused DICOM TLS handshake is a
``node.authentication_failed`` security alert (110113 / 110126, outcome 4) with the peer's
address and the reason. On SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import socket
import ssl
from pathlib import Path

import pytest
from pydicom import Dataset
from pynetdicom import AE, evt
from pynetdicom.sop_class import CTImageStorage, StudyRootQueryRetrieveInformationModelMove

from core_server import auth
from core_server.tls import Files, certificates
from tests.conftest import RunningCore, free_port
from tests.core_server.dicom.clients import dcmtk, keys, peer
from tests.dicom_data import make_ct, write

from .receiver import Received, Repository, UdpReceiver

STUDY = "1.2.826.0.1.3680043.8.498.1701"


def _event(code: str, action: str | None = None, outcome: str = "0"):
    def wanted(m: Received) -> bool:
        ident = m.xml.find("EventIdentification")
        return (
            m.event_id() == code
            and ident.get("EventOutcomeIndicator") == outcome
            and (action is None or ident.get("EventActionCode") == action)
        )

    return wanted


@pytest.fixture
def scp() -> object:
    ae = AE(ae_title="VIEWER")
    ae.add_supported_context(CTImageStorage)
    got: list[str] = []

    def store(event: evt.Event) -> int:
        got.append(str(event.request.AffectedSOPInstanceUID))
        return 0x0000

    server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_STORE, store)])
    server.got = got  # type: ignore[attr-defined]
    yield server
    server.shutdown()


def _move(core: RunningCore) -> Dataset:
    ae = AE(ae_title="FINDER")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
    assoc = ae.associate("127.0.0.1", core.dicom_port, ae_title=core.ae_title)
    assert assoc.is_established
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = STUDY
    try:
        answers = list(
            assoc.send_c_move(identifier, "VIEWER", StudyRootQueryRetrieveInformationModelMove)
        )
    finally:
        assoc.release()
    return answers[-1][0]


def _refused_handshake(port: int) -> None:
    """A client that trusts only the system's CAs: it refuses our certificate mid-handshake."""
    client = ssl.create_default_context()
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        client.wrap_socket(raw, server_hostname="localhost")


def test_dicom_queries_transfers_and_refused_handshakes_reach_the_repository(
    tmp_path: Path, database_url: str, scp: object
) -> None:
    data = tmp_path / "data"
    tls = data / "tls"
    certificates.init(Files(tls / "server.pem", tls / "server.key", tls / "ca.pem"), ["localhost"])
    repository = Repository()
    receiver = UdpReceiver(repository)
    core = RunningCore(
        data,
        database_url,
        atna_host="127.0.0.1",
        atna_port=receiver.port,
        atna_transport="udp",
        dicom_tls_port=free_port(),
        hl7_tls_port=free_port(),
    ).start()
    try:
        core.register("FINDER", allow_query=True, allow_retrieve=True)
        core.register("VIEWER", port=scp.server_address[1])  # type: ignore[attr-defined]
        for i in (1, 2):
            ct = make_ct(study_uid=STUDY, sop_uid=f"{STUDY}.{i}", instance_number=i)
            dcmtk("storescu", "-aet", "MODALITY1", *peer(core), str(write(ct, tmp_path)))
        query = keys(QueryRetrieveLevel="STUDY", PatientName="WANG*", StudyInstanceUID="")
        for _ in range(3):  # a storm of the same query: one entry
            dcmtk("findscu", "-S", "-aet", "FINDER", *query, *peer(core))
        assert _move(core).Status == 0x0000
        _refused_handshake(core.settings.dicom_tls_port)
        queries = repository.wait_for(_event("110112", "E"))
        sent = repository.wait_for(_event("110104", "R"))
        alerts = repository.wait_for(_event("110113", "E", "4"))
        _, trail = auth.query_audit(core.core.engine, action="dicom.query")
    finally:
        core.stop()
        receiver.close()
    assert repository.errors == []
    assert len(trail) == 1 and trail[0].detail["keys"]["PatientName"] == "WANG*"
    assert trail[0].detail["level"] == "STUDY" and trail[0].address == "127.0.0.1"
    query_object = queries[0].xml.find("ParticipantObjectIdentification/ParticipantObjectQuery")
    asked = json.loads(base64.b64decode(query_object.text))
    assert asked["ae_title"] == "FINDER" and asked["keys"]["PatientName"] == "WANG*"
    assert sent[0].xml.find("ActiveParticipant").get("UserID") == "FINDER"
    study = sent[0].xml.find("ParticipantObjectIdentification")
    assert study.get("ParticipantObjectID") == STUDY
    assert study.find("ParticipantObjectDescription/SOPClass").get("NumberOfInstances") == "2"
    alert = alerts[0].xml
    assert alert.find("EventIdentification/EventTypeCode").get("csd-code") == "110126"
    assert "alert" in alert.find("EventIdentification/EventOutcomeDescription").text.lower()
    assert alert.find("ActiveParticipant").get("NetworkAccessPointID") == "127.0.0.1"
    assert sorted(scp.got) == [f"{STUDY}.1", f"{STUDY}.2"]  # type: ignore[attr-defined]


def test_a_qido_search_is_one_query_message_however_often_repeated(tmp_path: Path) -> None:
    repository = Repository()
    receiver = UdpReceiver(repository)
    core = RunningCore(
        tmp_path / "data", atna_host="127.0.0.1", atna_port=receiver.port, atna_transport="udp"
    ).start()
    try:
        with core.api() as client:
            for _ in range(3):  # a viewer asking the same again: one entry
                answer = client.get("/dicom-web/studies", params={"PatientID": "P-QIDO"})
                assert answer.status_code in (200, 204)
            assert client.get("/dicom-web/series", params={"Modality": "CT"}).status_code in (
                200,
                204,
            )
        messages = repository.wait_for(_event("110112", "E"))
        _, trail = auth.query_audit(core.core.engine, action="dicom.query")
    finally:
        core.stop()
        receiver.close()
    assert repository.errors == []
    assert sorted((e.detail["level"], e.username) for e in trail) == [
        ("SERIES", "admin"),
        ("STUDY", "admin"),
    ]
    study = next(e for e in trail if e.detail["level"] == "STUDY")
    assert study.detail["keys"] == {"PatientID": "P-QIDO"} and study.detail["channel"] == "qido-rs"
    asked = [
        json.loads(base64.b64decode(m.xml.find(".//ParticipantObjectQuery").text)) for m in messages
    ]
    assert {"level": "STUDY", "keys": {"PatientID": "P-QIDO"}, "channel": "qido-rs"} in asked
