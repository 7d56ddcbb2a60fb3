"""Outbound HL7 over TLS: a destination registered with ``tls`` gets its ORM over MLLP in TLS
(the HIS's certificate from the core's CA) and the job is ``sent`` with the ACK; a HIS whose
certificate another CA signed gets nothing and the job waits, the reason in its last error."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import hl7.mllp
import pytest

from core_server.hl7 import outbound
from core_server.hl7.loop_thread import LoopThread
from core_server.tls import Files, certificates
from tests.core_server.hl7.mllp import HisListener, wait_for

from .conftest import NAMES, TlsCore

ORM = "MSH|^~\\&|PACS||||||ORM^O01||P|2.3.1\rPID|1||P017||王^小明\rORC|SC|A17||IP\r"


class TlsHis(HisListener):
    """The test HIS's MLLP receiver behind TLS with the given certificate."""

    def __init__(self, files: Files) -> None:
        super().__init__()
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(files.cert, files.key)

    def start(self) -> TlsHis:
        thread = self._thread = LoopThread("his-tls")
        thread.start()
        self._server = thread.run(
            hl7.mllp.start_hl7_server(self._connected, "127.0.0.1", 0, ssl=self.context)
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self


@pytest.fixture(scope="module")
def his(
    tls_core: TlsCore, stranger_ca: Files, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TlsHis, TlsHis]]:
    folder = tmp_path_factory.mktemp("his")
    trusted = Files(folder / "his.pem", folder / "his.key", tls_core.files.ca)
    certificates.issue(trusted, NAMES)
    good, bad = TlsHis(trusted).start(), TlsHis(stranger_ca).start()
    with tls_core.api() as admin:
        for name, port in (("HIS-TLS", good.port), ("HIS-STRANGE", bad.port)):
            body = {
                "name": name,
                "host": "127.0.0.1",
                "port": port,
                "tls": True,
                "retry_base_seconds": 30,
                "retry_max_seconds": 60,
            }
            answer = admin.post("/api/hl7/destinations", json=body)
            assert answer.status_code == 201, answer.text
            assert answer.json()["tls"] is True
    yield good, bad
    good.stop()
    bad.stop()


def test_a_tls_destination_gets_the_orm_and_the_job_is_sent(
    tls_core: TlsCore, his: tuple[TlsHis, TlsHis]
) -> None:
    good, _ = his
    service = tls_core.core.hl7
    job_id = service.enqueue("HIS-TLS", ORM, source="test")
    engine = tls_core.core.engine
    job = wait_for(lambda: (j := outbound.get_job(engine, job_id)).status == "sent" and j)
    assert isinstance(job, outbound.Job)
    assert job.ack_code == "AA" and job.ack and f"|{job.control_id}|" in job.ack
    assert any(b"P017" in m for m in good.messages)


def test_an_untrusted_his_gets_nothing_and_the_job_waits_with_the_reason(
    tls_core: TlsCore, his: tuple[TlsHis, TlsHis]
) -> None:
    _, bad = his
    job_id = tls_core.core.hl7.enqueue("HIS-STRANGE", ORM, source="test")
    engine = tls_core.core.engine
    # A claim counts the attempt at once; the try is over when the job is no longer "sending".
    job = wait_for(
        lambda: (
            (j := outbound.get_job(engine, job_id)).attempts >= 1 and j.status != "sending" and j
        )
    )
    assert isinstance(job, outbound.Job)
    assert job.status == "pending" and "CERTIFICATE_VERIFY_FAILED" in job.last_error
    assert bad.messages == []
