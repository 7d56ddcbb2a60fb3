"""The archives under test (our core, Debian's Orthanc) and the C-MOVE destination."""

from __future__ import annotations

import json
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.procs import Managed, bench_env, free_port, port_open, require_tool, wait_until
from tests.postgres import Cluster as Postgres
from tests.postgres import _bin as _pg_bin

HOST = "127.0.0.1"
BENCH_AE = "BENCH"  # the bench's calling AE title
DEST_AE = "BENCHDST"  # the C-MOVE destination (a storescp that discards)


@dataclass(frozen=True)
class Target:
    """One running archive as the DICOM clients see it."""

    label: str
    ae_title: str
    host: str
    port: int
    pid: int


class CoreServer:
    """``core-server serve`` as a subprocess on free loopback ports."""

    def __init__(
        self,
        data_dir: Path,
        log_path: Path,
        ae_title: str = "PACS",
        database_url: str | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.ae_title = ae_title
        self.database_url = database_url  # None: SQLite in the data dir
        self.password = secrets.token_urlsafe(18)
        self.http_port = 0
        self._process: Managed | None = None

    @property
    def database(self) -> Path:
        return self.data_dir / "core.db"

    def start(self, timeout: float = 120.0) -> Target:
        self.http_port, dicom_port = free_port(), free_port()
        argv = [
            *_core_command(),
            "serve",
            "--data-dir",
            str(self.data_dir),
            "--host",
            HOST,
            "--http-port",
            str(self.http_port),
            "--dicom-port",
            str(dicom_port),
            "--hl7-port",
            str(free_port()),
            "--ae-title",
            self.ae_title,
        ]
        env = bench_env(CORE_ADMIN_PASSWORD=self.password)
        if self.database_url:
            env["CORE_DATABASE_URL"] = self.database_url
        self._process = process = Managed("core-server", argv, self.log_path, env)
        process.start()
        wait_until(lambda: self._healthy(process), timeout, "core-server /healthz", step=0.2)
        return Target("core", self.ae_title, HOST, dicom_port, process.pid)

    def _healthy(self, process: Managed) -> bool:
        process.check_alive()
        try:
            return httpx.get(self._url("/healthz"), timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def register(self, ae_title: str, host: str, port: int) -> None:
        """Register a DICOM peer (query/retrieve need it; so does a C-MOVE destination)."""
        with httpx.Client(timeout=30) as client:
            token = client.post(
                self._url("/api/auth/token"),
                data={"username": "admin", "password": self.password},
            )
            token.raise_for_status()
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            body = {"ae_title": ae_title, "host": host, "port": port}
            answer = client.post(self._url("/api/modalities"), json=body, headers=headers)
            if answer.status_code not in (201, 409):  # 409: registered already
                answer.raise_for_status()

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None

    def _url(self, path: str) -> str:
        return f"http://{HOST}:{self.http_port}{path}"


def _core_command() -> list[str]:
    script = Path(sys.prefix) / "bin" / "core-server"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "core_server"]


class OrthancServer:
    """Debian's Orthanc with a throwaway storage and index; binds 0.0.0.0, so run it only
    inside the bench's own network namespace."""

    def __init__(self, work_dir: Path, log_path: Path, peers: dict[str, int]) -> None:
        self.work_dir = work_dir
        self.log_path = log_path
        self.peers = peers  # AE title -> port on HOST
        self.ae_title = "ORTHANC"
        self._process: Managed | None = None

    def start(self, timeout: float = 120.0) -> Target:
        http_port, dicom_port = free_port(), free_port()
        config = self.work_dir / "orthanc.json"
        self.work_dir.mkdir(parents=True, exist_ok=True)
        config.write_text(json.dumps(self._config(http_port, dicom_port), indent=2))
        argv = [require_tool("Orthanc"), str(config)]
        self._process = process = Managed("orthanc", argv, self.log_path, bench_env())
        process.start()

        def ready() -> bool:
            process.check_alive()
            try:
                up = httpx.get(f"http://{HOST}:{http_port}/system", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False
            return up and port_open(HOST, dicom_port)

        wait_until(ready, timeout, "Orthanc", step=0.2)
        return Target("orthanc", self.ae_title, HOST, dicom_port, process.pid)

    def _config(self, http_port: int, dicom_port: int) -> dict[str, object]:
        return {
            "Name": "bench-orthanc",
            "StorageDirectory": str(self.work_dir / "storage"),
            "IndexDirectory": str(self.work_dir / "index"),
            "DicomAet": self.ae_title,
            "DicomPort": dicom_port,
            "HttpPort": http_port,
            "DicomModalities": {ae: [ae, HOST, port] for ae, port in self.peers.items()},
            "DicomCheckCalledAet": False,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "DicomAlwaysAllowStore": True,
            "Plugins": [],
        }

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None


class BenchPostgres(Postgres):
    """A throwaway PostgreSQL cluster for the cores under test, with its durability settings
    at PostgreSQL's defaults (the tests' cluster turns fsync off, which a hospital would not)."""

    def start(self) -> None:
        data = str(self.dir / "data")
        self._run(
            _pg_bin("initdb"), "-D", data, "--auth=trust", "--no-locale", "-E", "UTF8",
            "-U", "postgres",
        )  # fmt: skip
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
            "-c max_connections=200 -c shared_buffers=256MB"
        )
        self._run(
            _pg_bin("pg_ctl"), "-D", data, "-o", options, "-w", "-l", str(self.dir / "log"),
            "start",
        )  # fmt: skip


def storescp_destination(port: int, log_path: Path) -> Managed:
    """dcmtk's storescp as the C-MOVE destination: receives everything, writes nothing."""
    argv = [require_tool("storescp"), "--ignore", "-aet", DEST_AE, str(port)]
    return Managed("storescp", argv, log_path, bench_env())


def wait_listening(process: Managed, port: int, timeout: float = 30.0) -> None:
    def up() -> bool:
        process.check_alive()
        return port_open(HOST, port)

    wait_until(up, timeout, process.name)
