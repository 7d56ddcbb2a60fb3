"""First contact over https with the appliance's own CA, which the device does not know yet:
against a TLS-only core the device pins the certificate it met for the code exchange, shows
its fingerprint (the same the admin page shows), and pins the CA received because it signed
that certificate; a CA that did not is refused (nothing pinned)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core_server.tls import Files, certificates
from device_kit import enrol_code, enrolment
from device_kit.client import CoreClient
from tests.core_server.tls.conftest import NAMES, TlsCore

PATH = "/api/queueing/enrolment-codes"


@pytest.fixture(scope="module")
def tls_core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsCore]:
    core = TlsCore(tmp_path_factory.mktemp("tls-core"), cleartext=False).start()
    yield core
    core.stop()


def test_first_contact_pins_by_sight_then_the_ca_that_signed_it(tls_core: TlsCore) -> None:
    admin = tls_core.api()
    admin.post("/api/queueing/screens", json={"code": "1F", "name": "一楼"}).raise_for_status()
    shown: list[enrol_code.Code] = []
    result: list[enrolment.Enrolment] = []
    ready = threading.Event()

    def device() -> None:
        result.append(
            enrol_code.by_code(
                tls_core.base_url, "queue-display", shown.append, interval=0.1, alive=ready.set
            )
        )

    thread = threading.Thread(target=device, daemon=True)
    thread.start()
    assert ready.wait(30)
    [code] = shown
    on_admin_page = admin.get(PATH + "/certificate").json()["fingerprint"]
    assert code.fingerprint == on_admin_page and len(on_admin_page) == 39
    answer = admin.post(PATH + "/confirm", json={"code": code.code, "name": "tv", "screen": "1F"})
    assert answer.status_code == 201, answer.text
    admin.close()  # an idle TLS connection left open holds the core's stop for 30 s
    thread.join(30)
    [record] = result
    assert record.ca_pem == Path(tls_core.ca).read_text()
    client = CoreClient(record, 10.0, "zh")  # from now on the pinned CA, hostname checked
    try:
        assert client.get("/api/queueing/devices/me")["name"] == "tv"
    finally:
        client.close()


def test_a_ca_that_did_not_sign_the_certificate_met_is_refused(
    tls_core: TlsCore, tmp_path: Path
) -> None:
    contact = enrol_code.first_contact(tls_core.base_url)
    assert not contact.trusted and contact.fingerprint
    stranger = Files(tmp_path / "s.pem", tmp_path / "s.key", tmp_path / "ca.pem")
    certificates.init(stranger, NAMES)
    with pytest.raises(enrol_code.EnrolmentFailed, match="does not vouch"):
        enrol_code.check_ca(tls_core.base_url, contact, stranger.ca.read_text())
    with pytest.raises(enrol_code.EnrolmentFailed, match="no CA to pin"):
        enrol_code.check_ca(tls_core.base_url, contact, "")
    enrol_code.check_ca(tls_core.base_url, contact, Path(tls_core.ca).read_text())  # the right one
