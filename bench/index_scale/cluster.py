"""A PostgreSQL cluster that outlives the bench: its data directory (default
``/work/h_index/pg``) is made once and reused, so a 10 M-instance index is built once.

``auto_explain`` is preloaded but off (``log_min_duration -1``); :func:`explaining` turns it on
for the plan pass, so the plans are those of the statements the core itself sends.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import psycopg

from tests.postgres import _bin, _free_port

DEFAULT_DIR = Path("/work/h_index/pg")
SETTINGS = (
    "shared_buffers=512MB",
    "work_mem=16MB",
    "maintenance_work_mem=512MB",
    "max_wal_size=8GB",
    "max_connections=200",
    "shared_preload_libraries=auto_explain",
    "auto_explain.log_analyze=on",
    "auto_explain.log_buffers=on",
    "auto_explain.log_timing=on",
    "auto_explain.log_format=text",
    "log_min_messages=log",
)


class PersistentCluster:
    """``start`` creates the cluster when its directory is empty, else starts what is there."""

    def __init__(self, directory: Path = DEFAULT_DIR, port: int = 0) -> None:
        self.dir = directory
        self.data = directory / "data"
        self.log = directory / "postgres.log"
        self.port = port or _free_port()
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        command = list(args)
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd="/", timeout=600)

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        if not (self.data / "PG_VERSION").exists():
            self._run(
                _bin("initdb"), "-D", str(self.data), "--auth=trust", "--no-locale",
                "-E", "UTF8", "-U", "postgres",
            )  # fmt: skip
        if (self.data / "postmaster.pid").exists():
            self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 " + " ".join(
            f"-c {s}" for s in SETTINGS
        )
        self._run(
            _bin("pg_ctl"), "-D", str(self.data), "-o", options, "-w", "-t", "300",
            "-l", str(self.log), "start",
        )  # fmt: skip
        self.set_explain(False)

    def stop(self) -> None:
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "300", "stop")

    def url(self, database: str, driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def ensure_database(self, name: str) -> str:
        with psycopg.connect(self.url("postgres", "postgresql"), autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if found is None:
                conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def set_explain(self, on: bool) -> None:
        """auto_explain on (every statement's plan with ANALYZE and BUFFERS in the log) or
        off; a reload reaches the core's pooled connections too."""
        with psycopg.connect(self.url("postgres", "postgresql"), autocommit=True) as conn:
            value = "0" if on else "-1"
            conn.execute(f"ALTER SYSTEM SET auto_explain.log_min_duration = {value}")
            conn.execute("SELECT pg_reload_conf()")
