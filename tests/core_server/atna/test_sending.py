"""The audit trail reaches an audit repository: a running core's sign-ins, received images
and viewed studies arrive over TLS (RFC 5425) as RFC 5424 messages the standard's schema
accepts; the cursor survives a restart and a repository that is down is retried, nothing lost
and nothing sent twice; UDP (RFC 5426) carries them too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core_server import auth, db
from core_server.archive import Archive
from core_server.atna import AtnaSender, Source, codes
from core_server.atna.syslog import TlsTransport, UdpTransport
from tests.conftest import RunningCore, free_port
from tests.core_server.dicom.clients import dcmtk, peer
from tests.dicom_data import make_ct, write

from .receiver import Received, Repository, TlsReceiver, UdpReceiver, certificate


@pytest.fixture
def pki(tmp_path: Path) -> tuple[Path, Path, Path]:
    (tmp_path / "pki").mkdir()
    return certificate(tmp_path / "pki")


def _event(code: str, outcome: str = "0", action: str | None = None):
    def wanted(m: Received) -> bool:
        ident = m.xml.find("EventIdentification")
        return (
            m.event_id() == code
            and ident.get("EventOutcomeIndicator") == outcome
            and (action is None or ident.get("EventActionCode") == action)
        )

    return wanted


def test_a_running_core_sends_its_trail_over_tls(
    tmp_path: Path, database_url: str, pki: tuple[Path, Path, Path]
) -> None:
    ca, cert, key = pki
    repository = Repository()
    receiver = TlsReceiver(repository, cert, key)
    core = RunningCore(
        tmp_path / "data",
        database_url,
        atna_host="localhost",
        atna_port=receiver.port,
        atna_ca=ca,
        atna_site="TEST-HOSPITAL",
    ).start()
    try:
        assert repository.wait_for(_event("110100"))  # Application Activity: start
        core.api().close()  # a sign-in
        answer = httpx.post(
            core.base_url + "/api/auth/token", data={"username": "admin", "password": "wrong"}
        )
        assert answer.status_code == 401
        study = "1.2.826.0.1.3680043.8.498.77"
        path = write(
            make_ct(study_uid=study, patient_name="WANG^JIANGUO=王^建国", charset="ISO_IR 192"),
            tmp_path,
        )
        dcmtk("storescu", "-aet", "MODALITY1", *peer(core), path)
        logins = repository.wait_for(_event("110114"))
        failed = repository.wait_for(_event("110114", "4"))
        received = repository.wait_for(_event("110104", action="C"))
    finally:
        core.stop()
        receiver.close()
    assert repository.errors == []
    assert logins[0].xml.find("ActiveParticipant").get("UserID") == "admin"
    assert failed[0].xml.find("EventIdentification/EventOutcomeDescription").text == "password"
    objects = received[0].xml.findall("ParticipantObjectIdentification")
    assert objects[0].get("ParticipantObjectID") == study
    sop = objects[0].find("ParticipantObjectDescription/SOPClass")
    assert sop.get("NumberOfInstances") == "1"
    assert objects[1].find("ParticipantObjectName").text == "王建国"
    sender = received[0].xml.find("ActiveParticipant")
    assert sender.get("UserID") == "MODALITY1"
    header = received[0].header
    assert (header["pri"], header["msgid"], header["app"]) == (
        b"85",
        b"IHE+RFC-3881",
        b"core-server",
    )
    source = received[0].xml.find("AuditSourceIdentification")
    assert source.get("AuditEnterpriseSiteID") == "TEST-HOSPITAL"
    assert header["hostname"].decode() == source.get("AuditSourceID")


@pytest.fixture
def engine(database_url: str, tmp_path: Path) -> Iterator[object]:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    yield engine
    engine.dispose()


def _sender(engine: object, tmp_path: Path, transport: object) -> AtnaSender:
    archive = Archive(engine, tmp_path / "storage")  # type: ignore[arg-type]
    source = Source("pacs.test", "CORE")
    sender = AtnaSender(engine, archive, transport, source, "repo")  # type: ignore[arg-type]
    sender.settle = sender.settle * 0  # the test writes nothing concurrently
    return sender


def _login(engine: object, name: str) -> None:
    auth.record_audit(engine, username=name, action="login.ok", address="10.0.0.9")  # type: ignore[arg-type]


def test_down_repository_is_retried_and_a_restart_resumes_without_loss_or_repeat(
    tmp_path: Path, engine: object, pki: tuple[Path, Path, Path]
) -> None:
    ca, cert, key = pki
    port = free_port()
    _login(engine, "before")
    auth.record_audit(engine, username="x", action="queueing.screen.change")  # not an ATNA event  # type: ignore[arg-type]
    first = _sender(engine, tmp_path, TlsTransport("localhost", port, ca=ca))
    first.tick()  # nobody listens: refused, the cursor stays, the next try waits
    assert first.failures == 1 and first.next_try is not None
    assert first.cursor() == 0
    repository = Repository()
    receiver = TlsReceiver(repository, cert, key, port=port)
    try:
        first.next_try = None  # the back-off's time has come
        first.tick()
        assert first.failures == 0
        repository.wait_for(lambda m: True)
        first.transport.close()
        _login(engine, "during restart")  # written while no sender runs
        second = _sender(engine, tmp_path, TlsTransport("localhost", port, ca=ca))
        second.tick()
        users = repository.wait_for(
            lambda m: m.xml.find("ActiveParticipant").get("UserID") == "during restart"
        )
        assert users
        second.transport.close()
    finally:
        receiver.close()
    ids = [m.xml.find("ActiveParticipant").get("UserID") for m in repository.messages]
    assert ids == ["before", "during restart"]
    assert repository.errors == []
    with db.read(engine) as conn:  # type: ignore[arg-type]
        from sqlalchemy import select

        from core_server.atna.tables import atna_cursors

        assert conn.execute(select(atna_cursors.c.sent)).scalar_one() == 2


def test_an_untrusted_repository_is_not_sent_to(
    tmp_path: Path, engine: object, pki: tuple[Path, Path, Path]
) -> None:
    """A repository whose certificate our CA did not sign gets nothing (node authentication)."""
    _ca, cert, key = pki
    other_ca, _c, _k = certificate(
        tmp_path / "other" if (tmp_path / "other").mkdir() is None else tmp_path
    )
    repository = Repository()
    receiver = TlsReceiver(repository, cert, key)
    try:
        _login(engine, "someone")
        sender = _sender(engine, tmp_path, TlsTransport("localhost", receiver.port, ca=other_ca))
        sender.tick()
        assert sender.failures == 1
        assert sender.cursor() == 0
    finally:
        receiver.close()
    assert repository.messages == []


def test_udp_carries_the_messages(tmp_path: Path, engine: object) -> None:
    repository = Repository()
    receiver = UdpReceiver(repository)
    try:
        _login(engine, "udp user")
        sender = _sender(engine, tmp_path, UdpTransport("127.0.0.1", receiver.port))
        sender.tick()
        got = repository.wait_for(lambda m: True)
    finally:
        receiver.close()
    assert repository.errors == []
    assert got[0].event_id() == codes.USER_AUTHENTICATION.code
