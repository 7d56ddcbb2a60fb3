"""Liveness as the database knows it (cluster/nodes.py): a registered process is alive while its
session holds its lock; a process killed -9 is dead at once; a session lost (PostgreSQL ended
it) comes back by itself; long-dead rows are forgotten; on SQLite the process registers and
nobody is judged dead. The migration makes the table as declared."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import psycopg
from sqlalchemy import Engine, delete, select

from core_server import db
from core_server.cluster import nodes
from core_server.cluster.tables import cluster_nodes
from tests.cluster.harness import wait_for
from tests.migrations import schema_differences

# A core process in miniature: it registers under argv[2] and holds its lock until killed.
PROCESS = textwrap.dedent(
    """
    import sys, time
    from core_server import db
    from core_server.cluster import nodes
    nodes.Liveness(db.make_engine(sys.argv[1]), sys.argv[2]).start()
    print("ready", flush=True)
    time.sleep(600)
    """
)


def test_migration_matches_the_table(database_url: str) -> None:
    assert schema_differences(database_url, ["cluster_nodes"]) == []


def start_process(url: str, owner: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", PROCESS, url, owner], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process


def test_a_killed_process_is_dead_and_a_live_one_is_not(pg_url: str, pg_engine: Engine) -> None:
    alive = nodes.Liveness(pg_engine, "host-a:11:1:alive")
    alive.start()
    victim = start_process(pg_url, "host-b:22:2:victim")
    try:
        assert nodes.dead_owners(pg_engine) == set()
        os.kill(victim.pid, signal.SIGKILL)  # no shutdown: the socket closes with the process
        victim.wait(30)
        wait_for(lambda: nodes.dead_owners(pg_engine) == {"host-b:22:2:victim"}, "judged dead")
        listed = {m.owner: m.alive for m in nodes.members(pg_engine)}
        assert listed == {"host-a:11:1:alive": True, "host-b:22:2:victim": False}
        assert nodes.forget(pg_engine, older_than=timedelta(0)) == 1  # the dead one only
        assert [m.owner for m in nodes.members(pg_engine)] == ["host-a:11:1:alive"]
    finally:
        victim.kill()
        alive.stop()
    # Stopped in order: the lock goes with the session, the row stays (claims left over are
    # taken over, not left to their leases).
    # (the server ends the session a moment after the client closed it)
    wait_for(lambda: nodes.dead_owners(pg_engine) == {"host-a:11:1:alive"}, "the lock gone")


def test_a_lost_session_comes_back(pg_url: str, pg_engine: Engine) -> None:
    liveness = nodes.Liveness(pg_engine, "host-a:33:3:flaky", check_seconds=0.2)
    liveness.start()
    try:
        first = liveness.session_pid
        assert first is not None and liveness._conn is not None
        # A silent machine's session is dropped by the server within about 11 s (we cannot
        # power one off here: the settings that do it are checked on the session).
        shown = [
            liveness._conn.execute(f"SHOW {name}").fetchone()
            for name in ("tcp_keepalives_idle", "tcp_keepalives_count", "tcp_user_timeout")
        ]
        assert shown == [("5",), ("3",), ("10000",)]
        with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        wait_for(lambda: liveness.reconnects >= 1, "the session taken again", timeout=60)
        assert liveness.session_pid not in (None, first)
        assert nodes.dead_owners(pg_engine) == set()
    finally:
        liveness.stop()


def test_two_users_in_one_process_share_one_liveness(pg_engine: Engine) -> None:
    first = nodes.join(pg_engine, "host-a:44:4:shared")
    second = nodes.join(pg_engine, "host-a:44:4:shared")
    assert first is second  # two cores in one process: one claim name, one lock
    nodes.leave(pg_engine, "host-a:44:4:shared")
    assert nodes.dead_owners(pg_engine) == set()  # the other core still runs
    nodes.leave(pg_engine, "host-a:44:4:shared")
    wait_for(lambda: nodes.dead_owners(pg_engine) == {"host-a:44:4:shared"}, "the lock gone")


def test_on_sqlite_the_process_registers_and_nobody_is_dead(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'core.db'}")
    db.migrate(engine)
    liveness = nodes.Liveness(engine, "host-a:55:5:alone", check_seconds=0.1)
    liveness.start()
    try:
        with db.read(engine) as conn:
            row = conn.execute(select(cluster_nodes)).one()
        assert (row.owner, row.pid, row.lock_key) == ("host-a:55:5:alone", os.getpid(), None)
        assert nodes.dead_owners(engine) == set()
        assert [m.alive for m in nodes.members(engine)] == [True]
        with db.write(engine) as conn:  # the row gone (a clean-up too eager): written again
            conn.execute(delete(cluster_nodes))
        wait_for(lambda: [m.owner for m in nodes.members(engine)] == [row.owner], "the row")
    finally:
        liveness.stop()
        engine.dispose()
