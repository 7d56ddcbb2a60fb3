"""A TLS-only core (cleartext off) for the module: HTTPS, DICOM TLS and MLLP TLS on free
ports, its certificate from an appliance CA made by ``tls init``'s code; and a second CA that
signed nothing of the core's (the untrusted one)."""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core_server.tls import Files, certificates
from tests.conftest import ADMIN_PASSWORD, free_port

NAMES = ["localhost", "127.0.0.1"]


class TlsCore:
    """A whole core as `core-server serve` runs it (tls.http's two servers), in a thread."""

    def __init__(self, data_dir: Path, **options: Any) -> None:
        from core_server.server import create_app, http_servers
        from core_server.settings import Settings

        self.files = Files(
            data_dir / "tls" / "server.pem",
            data_dir / "tls" / "server.key",
            data_dir / "tls" / "ca.pem",
        )
        if not self.files.present():
            certificates.init(self.files, NAMES)
        self.settings = Settings(
            data_dir=data_dir,
            host="127.0.0.1",
            http_port=free_port(),
            https_port=free_port(),
            dicom_port=free_port(),
            dicom_tls_port=free_port(),
            hl7_port=free_port(),
            hl7_tls_port=free_port(),
            admin_password=ADMIN_PASSWORD,
            **options,
        )
        self.app = create_app(self.settings)
        self.core = self.app.state.core
        self.servers = http_servers(
            self.settings, self.app, log_level="warning", proxy_headers=False
        )
        self._thread = threading.Thread(target=asyncio.run, args=(self._run(),), daemon=True)

    async def _run(self) -> None:
        from core_server.tls import http

        await http.run(self.servers)

    @property
    def ca(self) -> str:
        return str(self.files.ca)

    @property
    def verify(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca)

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.settings.https_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.http_port}"

    def start(self) -> TlsCore:
        self._thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base_url + "/healthz", verify=self.verify, timeout=1).is_success:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("TLS core did not come up")

    def stop(self) -> None:
        for server in self.servers:
            server.should_exit = True
        self._thread.join(timeout=30)

    def api(self) -> httpx.Client:
        answer = httpx.post(
            self.base_url + "/api/auth/token",
            data={"username": "admin", "password": ADMIN_PASSWORD},
            verify=self.verify,
        )
        answer.raise_for_status()
        token = answer.json()["access_token"]
        return httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {token}"}, verify=self.verify
        )


@pytest.fixture(scope="package")
def tls_core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsCore]:
    core = TlsCore(tmp_path_factory.mktemp("tls-core"), cleartext=False).start()
    yield core
    core.stop()


@pytest.fixture(scope="package")
def stranger_ca(tmp_path_factory: pytest.TempPathFactory) -> Files:
    """Another appliance's CA and certificate: trusted by nobody here."""
    folder = tmp_path_factory.mktemp("stranger")
    files = Files(folder / "server.pem", folder / "server.key", folder / "ca.pem")
    certificates.init(files, NAMES)
    return files
