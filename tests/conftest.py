"""Shared fixtures: databases (SQLite and a throwaway PostgreSQL), a running core, DICOM data."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from tests import postgres as pg
from tests.postgres import Cluster

os.environ.setdefault("TCP_NODELAY", "1")  # dcmtk tools read it: no Nagle delays
# The tests run as on a server whose clock is in UTC while the hospital is in Asia/Shanghai:
# anything that reads the machine's zone instead of the hospital's shows up 8 hours off.
os.environ["TZ"] = "UTC"
time.tzset()
ADMIN_PASSWORD = "admin-password-1"

# httpx gives up after 5 s by default; a loaded 2-core CI runner (a browser test on the other
# worker) has answered a first request later than that. The tests check answers, not speed
# (bench/ measures that), so every client the tests make waits 30 s unless it says otherwise.
_PATIENT = httpx.Timeout(30.0)
for _call in (
    httpx.request,
    httpx.get,
    httpx.post,
    httpx.put,
    httpx.patch,
    httpx.delete,
    httpx.head,
    httpx.options,
    httpx.Client.__init__,
    httpx.AsyncClient.__init__,
):
    if _call.__kwdefaults__ and "timeout" in _call.__kwdefaults__:
        _call.__kwdefaults__["timeout"] = _PATIENT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    cluster = Cluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each backend in turn: a test that takes this fixture runs on SQLite and PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'core.db'}"
    return request.getfixturevalue("postgres").new_database()


_SQLITE_TEMPLATE: list[Path] = []  # this process's migrated SQLite file, made once
_SQLITE_LOCK = threading.Lock()


def _sqlite_template() -> Path:
    from core_server import db

    with _SQLITE_LOCK:
        if not _SQLITE_TEMPLATE:
            import tempfile

            path = Path(tempfile.mkdtemp(prefix="sqlite-template-")) / "core.db"
            engine = db.make_engine(f"sqlite:///{path}")
            db.migrate(engine)
            engine.dispose()
            _SQLITE_TEMPLATE.append(path)
        return _SQLITE_TEMPLATE[0]


def give_schema(data_dir: Path, database_url: str | None) -> bool:
    """Start a core's empty database as a copy of one migrated once per process, so that each
    of the suite's hundreds of cores does not run every Alembic revision again (~2 s on SQLite,
    ~4 s on PostgreSQL under load). The core still runs ``db.migrate`` at start (a no-op then);
    an existing database, or one a test filled first, is left alone. Migrations themselves are
    tested from empty by each domain's migration-vs-tables test, ``test_db.py``,
    ``test_a_core_migrates_an_empty_database`` and the subprocess cores of the e2e tests."""
    import sqlite3

    if database_url is None:
        target = data_dir / "core.db"
    elif database_url.startswith("sqlite:///"):
        path = database_url.removeprefix("sqlite:///")
        if path.startswith(":memory:") or "?" in path:
            return False
        target = Path(path)
    else:
        return pg.give_schema(database_url)
    if target.exists():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(_sqlite_template())
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)  # the backup API: a consistent copy, WAL or not
    finally:
        copy.close()
        source.close()
    return True


class RunningCore:
    """A whole core (HTTP + DICOM) in this process, on free loopback ports. Its database, when
    empty, starts from a migrated copy (``give_schema``) unless ``premigrated=False``."""

    def __init__(
        self,
        data_dir: Path,
        database_url: str | None = None,
        premigrated: bool = True,
        **options: object,
    ) -> None:
        from core_server.server import create_app
        from core_server.settings import Settings

        if premigrated:
            give_schema(data_dir, database_url)
        self.settings = Settings(
            data_dir=data_dir,
            host="127.0.0.1",
            http_port=free_port(),
            dicom_port=free_port(),
            hl7_port=free_port(),
            database_url=database_url,
            admin_password=ADMIN_PASSWORD,
            **options,
        )
        self.app = create_app(self.settings)
        self.core = self.app.state.core
        # As `core-server serve`: forwarded headers are the app's, from trusted_proxies only.
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.settings.http_port,
            log_level="warning",
            proxy_headers=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.http_port}"

    @property
    def dicom_port(self) -> int:
        return self.settings.dicom_port

    @property
    def ae_title(self) -> str:
        return self.settings.ae_title

    def start(self) -> RunningCore:
        self._thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base_url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("core did not come up")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)

    def token(self, username: str = "admin", password: str = ADMIN_PASSWORD) -> str:
        answer = httpx.post(
            self.base_url + "/api/auth/token", data={"username": username, "password": password}
        )
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    def api(self, username: str = "admin", password: str = ADMIN_PASSWORD) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.token(username, password)}"},
        )

    def register(self, ae_title: str, host: str = "127.0.0.1", port: int = 104, **rights: bool):
        with self.api() as client:
            answer = client.post(
                "/api/modalities", json={"ae_title": ae_title, "host": host, "port": port, **rights}
            )
            answer.raise_for_status()


@pytest.fixture
def core(tmp_path: Path) -> Iterator[RunningCore]:
    """A running core on SQLite."""
    running = RunningCore(tmp_path / "data").start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def core_on(tmp_path: Path, database_url: str) -> Iterator[RunningCore]:
    """A running core on each database backend in turn."""
    running = RunningCore(tmp_path / "data", database_url).start()
    try:
        yield running
    finally:
        running.stop()


# Modules whose single tests run a minute or more (kill -9 and restart cycles). Under
# ``-n 2 --dist loadgroup`` xdist hands out the biggest xdist_group first (the browser tests, to
# one worker), then single tests in collection order: these go first to the other worker, so
# that none of them starts in the last minutes while the other worker idles.
SLOW_FIRST = (
    "tests/e2e/test_crash_recovery.py",
    "tests/e2e/test_disc_kiosk_crash.py",
    "tests/e2e/test_hl7_restart.py",
    "tests/e2e/test_queue_system.py",
    "tests/e2e/test_dicom_workers.py",
    "tests/e2e/test_capture_station_crash.py",
    "tests/kiosk_burner/test_app_with_core.py",
    "tests/core_server/discs/test_jobs_leases.py",
)


def _shared_scope(item: pytest.Item) -> str | None:
    """The module (or package) whose module- (package-) scoped fixture ``item`` uses."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    scopes = {defs[-1].scope for defs in info.name2fixturedefs.values() if defs}
    path = item.nodeid.split("::", 1)[0]
    if "package" in scopes:
        return path.rsplit("/", 1)[0]
    return path if "module" in scopes else None


@pytest.hookimpl(tryfirst=True)  # before xdist reads the xdist_group marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Whole slow modules to the front (a stable sort: the order in and between modules is
    otherwise as collected). Under loadgroup, a module (package) whose tests share a module-
    (package-) scoped fixture, usually a running core, becomes one xdist_group: else xdist
    deals its tests to both workers one by one and each worker builds that core again."""
    rank = {name: n for n, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
    for item in items:
        shared = _shared_scope(item)
        if shared is not None and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(shared))
