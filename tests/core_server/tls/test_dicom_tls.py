"""DICOM TLS on a TLS-only core: dcmtk's echoscu/storescu/findscu with ``+tls``/``+tla``
(direct path), pynetdicom with ``tls_args`` (pynetdicom's path: the worklist), openssl
s_client (protocol, chain), untrusted certificates and the closed plain port."""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
from pathlib import Path

import pytest
from pydicom import Dataset
from pynetdicom import AE
from pynetdicom.sop_class import ModalityWorklistInformationFind

from core_server.tls import Files, client_context
from tests.core_server.tls.conftest import TlsCore
from tests.dicom_data import make_ct, write

pytestmark = pytest.mark.skipif(
    subprocess.run(["which", "storescu"], capture_output=True).returncode != 0,
    reason="dcmtk missing",
)
ENV = {"TCP_NODELAY": "1", "PATH": "/usr/bin:/bin"}


def dcmtk(*args: str) -> subprocess.CompletedProcess[str]:
    # A timeout: an untrusted certificate must fail, never hang.
    return subprocess.run(args, capture_output=True, text=True, timeout=60, env=ENV)


def tls_options(ca: str) -> list[str]:
    # +tla: no client certificate of ours; +cf: the CA the core's certificate must chain to.
    return ["+tla", "+cf", ca]


@pytest.fixture(scope="module")
def querier(tls_core: TlsCore) -> str:
    """FINDSCU registered by REST over HTTPS: a workstation allowed to query."""
    with tls_core.api() as admin:
        answer = admin.post(
            "/api/modalities",
            json={"ae_title": "FINDSCU", "host": "127.0.0.1", "port": 104, "allow_query": True},
        )
        assert answer.status_code == 201, answer.text
    return "FINDSCU"


def test_echo_store_find_over_tls_on_the_direct_path(
    tls_core: TlsCore, querier: str, tmp_path: Path
) -> None:
    port = str(tls_core.settings.dicom_tls_port)
    echo = dcmtk("echoscu", *tls_options(tls_core.ca), "-aec", "PACS", "127.0.0.1", port)
    assert echo.returncode == 0, echo.stderr
    files = [
        write(
            make_ct(
                patient_id="TLS1", sop_uid=f"1.2.826.0.1.3680043.8.498.77.{i}", instance_number=i
            ),
            tmp_path,
        )
        for i in range(1, 4)
    ]
    store = dcmtk(
        "storescu", *tls_options(tls_core.ca), "-aec", "PACS", "127.0.0.1", port, *map(str, files)
    )
    assert store.returncode == 0, store.stderr
    find = dcmtk(
        "findscu",
        "-v",
        *tls_options(tls_core.ca),
        "-aec",
        "PACS",
        "-S",
        "-k",
        "QueryRetrieveLevel=STUDY",
        "-k",
        "PatientID=TLS1",
        "-k",
        "StudyInstanceUID",
        "127.0.0.1",
        port,
    )
    assert find.returncode == 0, find.stderr
    assert "TLS1" in find.stderr + find.stdout  # what was stored over TLS is found over TLS


def test_the_worklist_over_tls_on_pynetdicoms_path(tls_core: TlsCore, querier: str) -> None:
    ae = AE(ae_title=querier)
    ae.add_requested_context(ModalityWorklistInformationFind)
    context = client_context(tls_core.ca)
    assoc = ae.associate(
        "127.0.0.1", tls_core.settings.dicom_tls_port, ae_title="PACS", tls_args=(context, None)
    )
    assert assoc.is_established
    try:
        query = Dataset()
        query.PatientName = ""
        query.ScheduledProcedureStepSequence = [Dataset()]
        answers = list(assoc.send_c_find(query, ModalityWorklistInformationFind))
        assert answers and answers[-1][0].Status == 0x0000  # an empty worklist, answered
        assert isinstance(assoc.dul.socket.socket, ssl.SSLSocket)
    finally:
        assoc.release()


def test_openssl_sees_tls12_or_13_and_the_chain_to_our_ca(tls_core: TlsCore) -> None:
    where = f"127.0.0.1:{tls_core.settings.dicom_tls_port}"
    seen = subprocess.run(
        [
            "openssl",
            "s_client",
            "-connect",
            where,
            "-CAfile",
            tls_core.ca,
            "-verify_return_error",
            "-showcerts",
        ],
        input="",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "Verify return code: 0 (ok)" in seen.stdout, seen.stdout + seen.stderr
    assert "New, TLSv1.3, Cipher is TLS_AES" in seen.stdout
    assert " 1 s:O = Imaging appliance, CN = Imaging appliance CA" in seen.stdout  # chain
    tls12 = subprocess.run(
        ["openssl", "s_client", "-connect", where, "-CAfile", tls_core.ca, "-tls1_2"],
        input="",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert re.search(r"New, TLSv1\.2, Cipher is ECDHE-RSA-AES(128|256)-GCM-SHA", tls12.stdout)
    legacy = subprocess.run(  # the B.3 AES suite is not offered unless tls_legacy_ciphers
        ["openssl", "s_client", "-connect", where, "-tls1_2", "-cipher", "AES128-SHA"],
        input="",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert legacy.returncode != 0
    old = subprocess.run(
        ["openssl", "s_client", "-connect", where, "-tls1_1"],
        input="",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert old.returncode != 0  # TLS 1.1 refused at the handshake


def test_a_certificate_from_another_ca_is_refused_not_hung(
    tls_core: TlsCore, stranger_ca: Files
) -> None:
    echo = dcmtk(
        "echoscu",
        *tls_options(str(stranger_ca.ca)),
        "-aec",
        "PACS",
        "127.0.0.1",
        str(tls_core.settings.dicom_tls_port),
    )
    assert echo.returncode != 0
    assert "certificate" in (echo.stderr + echo.stdout).lower()


def test_cleartext_dicom_is_closed(tls_core: TlsCore) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", tls_core.settings.dicom_port), timeout=5)
    # and a plain association on the TLS port is not served: the handshake fails
    echo = dcmtk(
        "echoscu", "-to", "10", "-aec", "PACS", "127.0.0.1", str(tls_core.settings.dicom_tls_port)
    )
    assert echo.returncode != 0
