"""Database transactions: durable commits by default, non-durable ones only when asked."""

from __future__ import annotations

from pathlib import Path

from core_server import db
from tests.postgres import Cluster

FULL, NORMAL = 2, 1  # PRAGMA synchronous


def test_only_a_non_durable_write_skips_the_sync(tmp_path: Path) -> None:
    # one thread, one transaction at a time: the pool hands out the same connection each time
    engine = db.make_engine(f"sqlite:///{tmp_path / 'core.db'}")

    def level(conn: db.Connection) -> int:
        return int(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())

    with db.write(engine) as conn:
        assert level(conn) == FULL
    with db.write(engine, durable=False) as conn:
        assert level(conn) == NORMAL
    # the connection the archive left at NORMAL is FULL again for everyone else
    with db.write(engine) as conn:
        assert level(conn) == FULL
    with db.write(engine, durable=False) as conn:
        assert level(conn) == NORMAL
    with db.read(engine) as conn:
        assert level(conn) == FULL
    with engine.begin() as conn:  # a write that does not go through db.write
        assert level(conn) == FULL
    assert engine.pool.checkedin() == 1


def test_a_non_durable_write_on_postgresql_turns_off_only_its_own_sync(postgres: Cluster) -> None:
    engine = db.make_engine(postgres.new_database())
    with db.write(engine, durable=False) as conn:
        assert conn.exec_driver_sql("SHOW synchronous_commit").scalar_one() == "off"
        conn.exec_driver_sql("SET synchronous_commit TO on")  # the session's own setting
    with db.write(engine, durable=False) as conn:
        assert conn.exec_driver_sql("SHOW synchronous_commit").scalar_one() == "off"
    # SET LOCAL ended with its transaction: the session setting is back
    with db.write(engine) as conn:
        assert conn.exec_driver_sql("SHOW synchronous_commit").scalar_one() == "on"
    engine.dispose()
