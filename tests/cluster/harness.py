"""A cluster on this machine: three ``core-server serve`` processes on 127.0.0.2-4 (the same
ports on each address), one PostgreSQL database, one shared folder (storage area, TLS files,
requisition scans, report layouts), and Debian's HAProxy on 127.0.0.1 rendered by
``core_server.cluster_commands``. Used by tests/cluster/ and bench/cluster.py."""

from __future__ import annotations

import csv
import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from core_server.cluster_commands import Frontends, Node, render

HAPROXY = "/usr/sbin/haproxy"
ADMIN_PASSWORD = "admin-password-1"  # tests/conftest.py's
NODE_ADDRESSES = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
# What every node must share besides the database: see docs/cluster.md, "What a node needs".
SHARED_IN_DATA_DIR = ("tls", "ris", "report_layouts", "imports", "updates")
BACKENDS = ("pacs_http", "pacs_dicom", "pacs_hl7")


def wait_for(done: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    """Poll until ``done()`` is truthy; the deadline only turns a hang into a failure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := done():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def free_port(*hosts: str) -> int:
    """A port free on every one of ``hosts`` (and on 127.0.0.1, where it was found)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        try:
            for host in hosts:
                with socket.socket() as s:
                    s.bind((host, port))
            return port
        except OSError:
            continue


@dataclass
class Ports:
    http: int
    dicom: int
    hl7: int

    @classmethod
    def free(cls, *hosts: str) -> Ports:
        return cls(free_port(*hosts), free_port(*hosts), free_port(*hosts))


@dataclass
class CoreNode:
    """One ``core-server serve`` of the cluster, killed (-9) and restarted at will."""

    name: str
    address: str
    ports: Ports
    folder: Path
    shared: Path
    database_url: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.ports.http}"

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    def node(self) -> Node:
        return Node(self.name, self.address, self.ports.http, self.ports.dicom, self.ports.hl7)

    def prepare(self) -> None:
        """Its own data_dir, whose shared parts are links into the shared folder."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for name in SHARED_IN_DATA_DIR:
            (self.shared / name).mkdir(parents=True, exist_ok=True)
            link = self.data_dir / name
            if not link.is_symlink():
                link.symlink_to(self.shared / name, target_is_directory=True)

    def start(self) -> CoreNode:
        self.prepare()
        env = {
            **os.environ,
            "CORE_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "CORE_DATABASE_URL": self.database_url,
            "CORE_STORAGE_PATH": str(self.shared / "storage"),
            "CORE_TRUSTED_PROXIES": "127.0.0.1",
            "CORE_DICOM_WORKERS": "1",
        }
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "core-server"),
                "serve",
                f"--data-dir={self.data_dir}",
                f"--host={self.address}",
                f"--http-port={self.ports.http}",
                f"--dicom-port={self.ports.dicom}",
                f"--hl7-port={self.ports.hl7}",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(self.folder / "core.log", "ab"),  # noqa: SIM115
        )
        return self

    def healthy(self) -> bool:
        assert self.process is not None, "not started"
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited: see {self.folder / 'core.log'}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def wait_healthy(self) -> None:
        wait_for(self.healthy, f"{self.name} to start", timeout=120)

    def kill(self) -> None:
        """kill -9: no shutdown of any kind."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def migrate(self) -> None:
        """``core-server db migrate`` with this node's settings (a rolling upgrade's step)."""
        subprocess.run(
            [
                str(Path(sys.executable).parent / "core-server"),
                "db",
                "migrate",
                f"--data-dir={self.data_dir}",
                f"--database-url={self.database_url}",
            ],
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        """SIGTERM: the core's own orderly shutdown."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Haproxy:
    """Debian's HAProxy in the foreground on the rendered configuration; its stats socket."""

    folder: Path
    nodes: list[Node]
    ports: Ports = field(default_factory=lambda: Ports.free())
    process: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> Path:
        return self.folder / "haproxy.sock"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports.http}"

    def config(self) -> Path:
        front = Frontends(
            bind="127.0.0.1",
            http=self.ports.http,
            dicom=self.ports.dicom,
            hl7=self.ports.hl7,
            stats_socket=self.socket_path,
            stats_bind=None,
            log="stdout format raw local0",
            run_as=None,
            chroot=None,
        )
        path = self.folder / "haproxy.cfg"
        path.write_text(render(self.nodes, front), encoding="utf-8")
        return path

    def start(self) -> Haproxy:
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.config()
        check = subprocess.run(
            [HAPROXY, "-dW", "-c", "-f", str(config)], capture_output=True, text=True
        )
        assert check.returncode == 0, check.stdout + check.stderr
        self.process = subprocess.Popen(
            [HAPROXY, "-db", "-f", str(config)],
            stdout=open(self.folder / "haproxy.log", "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        wait_for(self.socket_path.exists, "HAProxy's stats socket", timeout=30)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def command(self, line: str) -> str:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(str(self.socket_path))
            s.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def servers(self) -> dict[tuple[str, str], dict[str, str]]:
        """(backend, server) -> its `show stat` row (status UP/DOWN, stot sessions...)."""
        text = self.command("show stat").lstrip("# ")
        rows = csv.DictReader(io.StringIO(text))
        return {
            (r["pxname"], r["svname"]): r
            for r in rows
            if r["svname"] not in ("FRONTEND", "BACKEND")
        }

    def status(self, server: str) -> set[str]:
        """The check state of ``server`` in every backend (one value when they agree)."""
        rows = self.servers()
        return {rows[(b, server)]["status"].split()[0] for b in BACKENDS}

    def sessions(self, server: str, column: str = "stot") -> dict[str, int]:
        """Sessions of ``server`` per backend: ``stot`` ever sent, ``scur`` open now."""
        rows = self.servers()
        return {b: int(rows[(b, server)][column]) for b in BACKENDS}

    def set_state(self, server: str, state: str) -> None:
        """``drain`` (no new sessions, the open ones go on) or ``ready``, in every backend."""
        for backend in BACKENDS:
            answer = self.command(f"set server {backend}/{server} state {state}")
            assert not answer.strip(), answer


class Cluster:
    """The database, the shared folder, three nodes and HAProxy in front."""

    def __init__(self, folder: Path, database_url: str, size: int = 3) -> None:
        self.folder = folder
        self.shared = folder / "shared"
        addresses = NODE_ADDRESSES[:size]
        self.node_ports = Ports.free(*addresses)
        self.nodes = [
            CoreNode(
                f"core{i + 1}",
                address,
                self.node_ports,
                folder / f"core{i + 1}",
                self.shared,
                database_url,
            )
            for i, address in enumerate(addresses)
        ]
        self.haproxy = Haproxy(folder / "haproxy", [n.node() for n in self.nodes])

    def start(self) -> Cluster:
        first, *others = self.nodes
        first.start().wait_healthy()  # migrates the database and makes the admin once
        for node in others:
            node.start()
        for node in others:
            node.wait_healthy()
        self.haproxy.start()
        for node in self.nodes:
            self.wait_status(node, "UP")
        return self

    def wait_status(self, node: CoreNode, status: str, timeout: float = 60) -> None:
        """Until HAProxy's checks put ``node`` in ``status`` in every backend."""
        wait_for(
            lambda: self.haproxy.status(node.name) == {status}, f"{node.name} {status}", timeout
        )

    def stop(self) -> None:
        self.haproxy.stop()
        for node in self.nodes:
            node.stop()

    def admin(self, base_url: str | None = None) -> httpx.Client:
        url = base_url or self.haproxy.url
        answer = httpx.post(
            f"{url}/api/auth/token",
            data={"username": "admin", "password": ADMIN_PASSWORD},
            timeout=30,
        )
        answer.raise_for_status()
        token = answer.json()["access_token"]
        return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
