"""A throwaway PostgreSQL cluster for the tests (Debian's ``postgresql``, run as the
``postgres`` user when the tests run as root, as CI does)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path

# Every cluster of this process by port: RunningCore finds the cluster of its URL here.
_CLUSTERS: dict[int, Cluster] = {}


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (apt-get install postgresql)")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="pgtest-"))
        self.port = _free_port()
        self._as_postgres = os.geteuid() == 0
        os.chmod(self.dir, 0o755)
        if self._as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self._fresh: set[str] = set()  # made by new_database and not yet given a schema
        self._template: str | None = None
        self._lock = threading.Lock()
        _CLUSTERS[self.port] = self

    def _run(self, *args: str) -> None:
        command = list(args)
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd="/")

    def start(self) -> None:
        data = str(self.dir / "data")
        self._run(
            _bin("initdb"),
            "-D",
            data,
            "--auth=trust",
            "--no-locale",
            "-E",
            "UTF8",
            "-U",
            "postgres",
        )
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            _bin("pg_ctl"), "-D", data, "-o", options, "-w", "-l", str(self.dir / "log"), "start"
        )

    def stop(self) -> None:
        _CLUSTERS.pop(self.port, None)
        try:
            self._run(_bin("pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "stop")
        finally:
            # A session's hundreds of databases are ~10^5 files: removing them took a worker's
            # last test 100-150 s of teardown under load, the other worker idle. The removal
            # goes on after the tests, in its own session (it survives this process), niced.
            subprocess.Popen(
                ["nice", "-n", "19", "rm", "-rf", "--", str(self.dir)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )

    def new_database(self) -> str:
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')
        self._fresh.add(name)
        return self.url(name, driver="postgresql+psycopg")

    def give_schema(self, name: str) -> bool:
        """Make the still empty database ``name`` a copy of one migrated once per session
        (``CREATE DATABASE ... TEMPLATE``, a file copy of ~0.1 s instead of ~4 s of Alembic
        revisions per core). False, untouched, when ``name`` is not a fresh empty database
        of this cluster (a second core on it, or a test that put something in first)."""
        import psycopg

        with self._lock:
            if name not in self._fresh:
                return False
            self._fresh.discard(name)
            with psycopg.connect(self.url(name)) as conn:
                tables = conn.execute(
                    "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
                ).fetchone()
            if tables is None or tables[0] != 0:
                return False
            template = self._migrated_template()
            with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
                # FORCE: the backend of the check above may not have exited yet
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
            return True

    def _migrated_template(self) -> str:
        if self._template is None:
            from core_server import db

            url = self.new_database()
            self._fresh.discard(url.rsplit("/", 1)[1])
            engine = db.make_engine(url)
            db.migrate(engine)
            engine.dispose()  # a template must have no sessions when copied
            self._template = url.rsplit("/", 1)[1]
        return self._template

    def url(self, database: str, driver: str = "postgresql") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.port}/{database}"


def give_schema(url: str) -> bool:
    """``Cluster.give_schema`` for a URL of one of this process's clusters."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    cluster = _CLUSTERS.get(parsed.port or 0)
    if cluster is None or parsed.host != "127.0.0.1" or parsed.database is None:
        return False
    return cluster.give_schema(parsed.database)
