"""HTTPS (HSTS, the redirect, /healthz), MLLP over TLS, and a device program's client and
WebSocket link against the TLS-only core with its pinned CA; untrusted and expired
certificates refused with a clear error."""

from __future__ import annotations

import asyncio
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import hl7.mllp
import httpx
import pytest

from core_server import clock
from core_server.tls import Files, certificates, server_context
from device_kit.client import CoreClient, CoreUntrusted
from device_kit.enrolment import Enrolment
from device_kit.link import CoreLink, Online, Pushed
from tests.core_server.tls.conftest import TlsCore
from tests.device_kit.core_setup import enrol, setup_ct

ADT = (
    "MSH|^~\\&|HIS|HOSP|PACS|RAD|20261201083000||ADT^A04^ADT_A01|TLS-1|P|2.5|||||CHN"
    "|UNICODE UTF-8\r"
    "PID|1||TLS100^^^HIS^PI||王^建国||19800101|M\r"
).encode()


def test_https_answers_with_hsts_and_http_only_redirects(tls_core: TlsCore) -> None:
    answer = httpx.get(tls_core.base_url + "/healthz", verify=tls_core.verify)
    assert answer.status_code == 200
    assert answer.headers["strict-transport-security"] == "max-age=31536000"
    plain = httpx.get(tls_core.http_url + "/api/auth/me?x=1", follow_redirects=False)
    assert plain.status_code == 308
    assert plain.headers["location"] == f"{tls_core.base_url}/api/auth/me?x=1"
    assert "strict-transport-security" not in plain.headers  # HSTS only over HTTPS
    health = httpx.get(tls_core.http_url + "/healthz")  # the load balancer's plain check
    assert health.status_code == 200


def test_an_adt_over_mllp_tls_is_acknowledged(tls_core: TlsCore) -> None:
    async def exchange() -> bytes:
        context = ssl.create_default_context(cafile=tls_core.ca)
        reader, writer = await hl7.mllp.open_hl7_connection(
            "127.0.0.1", tls_core.settings.hl7_tls_port, ssl=context
        )
        try:
            writer.writeblock(ADT)
            await writer.drain()
            return bytes(await asyncio.wait_for(reader.readblock(), 30))
        finally:
            writer.close()

    # On its own thread: a browser test on the same worker may hold Playwright's event loop
    # in this one, where asyncio.run refuses to start another.
    with ThreadPoolExecutor(1) as pool:
        ack = pool.submit(asyncio.run, exchange()).result().decode()
    assert "MSA|AA|TLS-1" in ack
    with pytest.raises(ConnectionRefusedError):  # the plain MLLP port is closed
        socket.create_connection(("127.0.0.1", tls_core.settings.hl7_port), timeout=5)


def test_mllp_tls_refuses_a_client_trusting_another_ca(
    tls_core: TlsCore, stranger_ca: Files
) -> None:
    context = ssl.create_default_context(cafile=str(stranger_ca.ca))
    where = ("127.0.0.1", tls_core.settings.hl7_tls_port)
    with (
        socket.create_connection(where, 5) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        context.wrap_socket(raw, server_hostname="localhost")


@pytest.fixture(scope="module")
def device(tls_core: TlsCore, tmp_path_factory: pytest.TempPathFactory) -> Enrolment:
    admin = setup_ct(tls_core)  # type: ignore[arg-type]  # the same api() as RunningCore
    record = enrol(admin, tmp_path_factory.mktemp("device"), "hall-screen", "screen", screen="1F")
    return Enrolment(
        record.core_url, record.device_key, record.device_name, tls_core.files.ca.read_text()
    )


def wait_for(link: CoreLink, done: Callable[[object], bool], seconds: float = 20) -> list[object]:
    seen: list[object] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            event = link.inbox.get(timeout=0.1)
        except queue.Empty:
            continue
        seen.append(event)
        if done(event):
            return seen
    raise AssertionError(f"not seen in {seconds} s: {seen}")


def test_a_device_with_the_pinned_ca_talks_https_and_wss(device: Enrolment) -> None:
    assert device.core_url.startswith("https://")
    link = CoreLink(CoreClient(device), None, "/api/ws", min_delay=0.05, max_delay=0.2).start()
    try:
        wait_for(link, lambda e: e == Online(True))
        wait_for(link, lambda e: isinstance(e, Pushed) and e.message["type"] == "hello")
    finally:
        link.stop()


def test_a_device_pinning_another_ca_says_untrusted(device: Enrolment, stranger_ca: Files) -> None:
    pinned_elsewhere = Enrolment(
        device.core_url, device.device_key, "x", stranger_ca.ca.read_text()
    )
    client = CoreClient(pinned_elsewhere, timeout=5)
    with pytest.raises(CoreUntrusted, match="not trusted"):
        client.get("/api/queueing/device/state")
    link = CoreLink(client, None, "/api/ws", min_delay=0.05, max_delay=0.2).start()
    try:
        wait_for(link, lambda e: e == Online(False, "untrusted"))
    finally:
        link.stop()


@pytest.fixture
def expired_server(tmp_path: Path, tls_core: TlsCore) -> Iterator[int]:
    """A TLS port with a certificate of the core's own CA that expired yesterday."""
    folder = tmp_path / "tls"
    folder.mkdir()
    files = Files(folder / "server.pem", folder / "server.key", folder / "ca.pem")
    for name in ("ca.pem", "ca.key"):
        (folder / name).write_bytes((tls_core.files.ca.parent / name).read_bytes())
    certificates.issue(files, ["127.0.0.1"], days=1, start=clock.now() - timedelta(days=2))
    context = server_context(files, dicom=False)
    listening = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        try:
            sock, _ = listening.accept()
            with sock, context.wrap_socket(sock, server_side=True):
                pass
        except (OSError, ssl.SSLError):
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listening.getsockname()[1]
    listening.close()


def test_an_expired_certificate_is_refused(expired_server: int, tls_core: TlsCore) -> None:
    pem = tls_core.files.ca.read_text()
    client = CoreClient(Enrolment(f"https://127.0.0.1:{expired_server}", "k", "x", pem), timeout=5)
    with pytest.raises(CoreUntrusted, match="expired"):
        client.get("/healthz")
