"""Which core processes are alive, as the database knows it (docs/cluster-state.md, "Liveness").

A core process that holds claims (durable jobs, inbound HL7 messages) registers in
``cluster_nodes`` under the name its claims carry and, on PostgreSQL, holds the session
advisory lock ``process:<name>`` on a connection of its own, open for the process's life.
PostgreSQL drops the lock with the session: at once when the process dies (a kill -9 closes its
socket), within about 10 s when its machine falls silent (TCP keepalives and
``tcp_user_timeout`` set on that session). So ``pg_locks`` says who is alive, by the
database's own account: node clocks need not agree, and a process that is only slow (a long
pause, a loaded machine) keeps its session and its lock and is never judged dead for it.

A row whose lock nobody holds is a dead process. A claim whose owner never registered (a
command-line run, a DICOM worker process) is not judged here: its lease decides, and
``jobs.owners`` finds this host's stopped processes. On SQLite there is one process: it
registers, and nobody is judged dead by this module.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import ProgrammingError

from core_server import clock, db
from core_server.cluster.locks import key_of
from core_server.cluster.tables import cluster_nodes as nodes

log = logging.getLogger(__name__)

CHECK_SECONDS = 2.0  # how often a process looks at its own session (and marks seen_at)
# SQLite has no session to look at: seen_at only, marked seldom (each mark is a commit on the
# one-box appliance's only writer).
SQLITE_SEEN_SECONDS = 30.0
FORGET_AFTER = timedelta(hours=1)  # a dead process's row is kept this long after last seen
# The liveness session: the server drops a silent client after about 5 + 2 * 3 s of
# keepalives, or 10 s of unacknowledged data; the client notices a lost server the same way.
SERVER_OPTIONS = (
    "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3"
    " -c tcp_user_timeout=10000"
)
CLIENT_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
}
# The advisory lock keys held in this database (pg_locks splits a bigint key in two halves).
_HELD_KEYS = (
    "SELECT (classid::bigint << 32) | objid::bigint FROM pg_locks"
    " WHERE locktype = 'advisory' AND objsubid = 1 AND granted"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def lock_key(owner: str) -> int:
    return key_of(f"process:{owner}")


@dataclass(frozen=True)
class Member:
    owner: str
    host: str
    pid: int
    started_at: datetime
    seen_at: datetime
    alive: bool


def _postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def dead_owners(engine: Engine) -> set[str]:
    """The registered processes whose liveness lock nobody holds (PostgreSQL; empty on
    SQLite, whose one process is this one)."""
    if not _postgres(engine):
        return set()
    try:
        with db.read(engine) as conn:
            rows = conn.execute(
                text(
                    "SELECT owner FROM cluster_nodes WHERE lock_key IS NOT NULL"
                    f" AND lock_key NOT IN ({_HELD_KEYS})"
                )
            )
            return {str(row.owner) for row in rows}
    except ProgrammingError as exc:
        if isinstance(exc.orig, psycopg.errors.UndefinedTable):
            return set()  # a database of job tables alone (a test's): nobody registered
        raise


def members(engine: Engine) -> list[Member]:
    """Every registered process, alive or not (on SQLite: alive when seen lately)."""
    dead = dead_owners(engine)
    recent = clock.now() - timedelta(seconds=SQLITE_SEEN_SECONDS * 3)
    with db.read(engine) as conn:
        rows = conn.execute(select(nodes).order_by(nodes.c.started_at)).all()
    return [
        Member(
            r.owner,
            r.host,
            r.pid,
            r.started_at,
            r.seen_at,
            r.owner not in dead if _postgres(engine) else r.seen_at >= recent,
        )
        for r in rows
    ]


def forget(engine: Engine, older_than: timedelta = FORGET_AFTER) -> int:
    """Rows of processes dead and unseen for ``older_than`` deleted (their claims were taken
    over long before); how many."""
    before = clock.now() - older_than
    gone = dead_owners(engine) if _postgres(engine) else None
    with db.write(engine) as conn:
        query = delete(nodes).where(nodes.c.seen_at < before)
        if gone is not None:
            query = query.where(nodes.c.owner.in_(sorted(gone)))
        return int(conn.execute(query).rowcount)


class Liveness:
    """This process alive in the database under ``owner`` while started (see the module)."""

    def __init__(self, engine: Engine, owner: str, *, check_seconds: float | None = None) -> None:
        self.engine = engine
        self.owner = owner
        default = CHECK_SECONDS if _postgres(engine) else SQLITE_SEEN_SECONDS
        self.check_seconds = default if check_seconds is None else check_seconds
        self.started_at = clock.now()
        self.reconnects = 0
        self._conn: psycopg.Connection[Any] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def session_pid(self) -> int | None:
        """The backend pid of the liveness session (None on SQLite or while it is lost)."""
        conn = self._conn
        return None if conn is None or conn.closed else conn.info.backend_pid

    def start(self) -> None:
        """Registers and holds the lock now (so no claim is made unregistered when the
        database is up), then watches the session on a thread."""
        self._stop.clear()
        try:
            self._connect()
        except Exception:
            log.warning("liveness: cannot register %s yet; retrying", self.owner, exc_info=True)
        self._thread = threading.Thread(target=self._run, name="cluster-liveness", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """The lock released (the session closed): what this process still holds is taken
        over. Called after the services stopped."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._close()

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.wait(self.check_seconds if self._ok() else backoff):
            try:
                if self._ok():
                    self._seen()
                else:
                    self._connect()
                    self.reconnects += 1
                backoff = 0.5
            except Exception:
                log.warning("liveness: session of %s lost; reconnecting", self.owner, exc_info=True)
                self._close()
                backoff = min(backoff * 2, 5.0)

    def _ok(self) -> bool:
        return not _postgres(self.engine) or (self._conn is not None and not self._conn.closed)

    def _connect(self) -> None:
        if _postgres(self.engine):
            url = self.engine.url.set(drivername="postgresql")
            conn = psycopg.connect(
                url.render_as_string(hide_password=False),
                autocommit=True,
                options=SERVER_OPTIONS,
                **CLIENT_KEEPALIVES,  # type: ignore[arg-type]
            )
            got = conn.execute("SELECT pg_try_advisory_lock(%s)", (lock_key(self.owner),))
            row = got.fetchone()
            if not (row and row[0]):
                conn.close()  # another session holds it: this process's other liveness
                raise RuntimeError(f"the liveness lock of {self.owner} is held elsewhere")
            self._conn = conn
        self._register()  # after the lock: a registered row without its lock means dead

    def _register(self) -> None:
        values = {
            "host": socket.gethostname()[:64],
            "pid": os.getpid(),
            "lock_key": lock_key(self.owner) if _postgres(self.engine) else None,
            "started_at": self.started_at,
            "seen_at": clock.now(),
        }
        insert = pg_insert if _postgres(self.engine) else sqlite_insert
        with db.write(self.engine) as conn:
            conn.execute(
                insert(nodes)
                .values(owner=self.owner, **values)
                .on_conflict_do_update(index_elements=["owner"], set_=values)
            )

    def _seen(self) -> None:
        """The session checked (a round trip) and seen_at marked."""
        if self._conn is not None:
            marked = self._conn.execute(
                "UPDATE cluster_nodes SET seen_at = now() WHERE owner = %s", (self.owner,)
            ).rowcount
        else:
            with db.write(self.engine) as conn:
                marked = conn.execute(
                    update(nodes).where(nodes.c.owner == self.owner).values(seen_at=clock.now())
                ).rowcount
        if not marked:  # the registration at start failed (SQLite), or the row went
            self._register()

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                log.debug("liveness: closing a broken session", exc_info=True)


# One liveness per process and database: two cores in one process (the tests run them so)
# share their claim name, and so its lock.
_shared: dict[tuple[str, str], tuple[Liveness, int]] = {}
_shared_lock = threading.Lock()


def join(engine: Engine, owner: str) -> Liveness:
    """This process's liveness on ``engine``'s database, started by its first user."""
    key = (engine.url.render_as_string(hide_password=False), owner)
    with _shared_lock:
        liveness, users = _shared.get(key, (None, 0))
        if liveness is None:
            liveness = Liveness(engine, owner)
            liveness.start()
        _shared[key] = (liveness, users + 1)
        return liveness


def leave(engine: Engine, owner: str) -> None:
    """One user fewer; the last one stops the liveness."""
    key = (engine.url.render_as_string(hide_password=False), owner)
    with _shared_lock:
        liveness, users = _shared.get(key, (None, 0))
        if liveness is None:
            return
        if users > 1:
            _shared[key] = (liveness, users - 1)
            return
        del _shared[key]
    liveness.stop()
