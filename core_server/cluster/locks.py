"""PostgreSQL advisory locks by name, and this process's node name.

A lock is held by a database session: a node that dies (kill -9, a lost network) loses its
connection and with it every lock it held, so no lock outlives its holder. On SQLite there is
one process and the locks are no-ops (the callers keep their in-process locks)."""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text


def new_node_name() -> str:
    """A node's name in the cluster: host, pid and a random tail (a restarted node is a new
    node; two cores in one process, as the tests run them, are two nodes)."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(3)}"


# This process, as the cluster-once tickers record who ran a round.
NODE = new_node_name()


def key_of(name: str) -> int:
    """A stable signed 64-bit advisory lock key for ``name`` (the same on every node)."""
    digest = hashlib.sha256(b"core-server:" + name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def held(engine: Engine, name: str) -> Iterator[None]:
    """Waits for the cluster-wide lock ``name`` and holds it for the block (PostgreSQL);
    nothing on SQLite."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        key = key_of(name)
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        conn.commit()
        try:
            yield
        finally:
            release(conn, key)


@contextmanager
def try_held(engine: Engine, name: str) -> Iterator[bool | None]:
    """Takes the cluster-wide lock ``name`` if it is free and holds it for the block: True
    when taken, False when another session holds it (its holder is alive: a dead node's
    session, and its locks, are gone), None on SQLite (no locks: the caller decides)."""
    if engine.dialect.name != "postgresql":
        yield None
        return
    with engine.connect() as conn:
        if not try_hold(conn, name):
            yield False
            return
        try:
            yield True
        finally:
            release(conn, key_of(name))


def try_hold(conn: Connection, name: str) -> bool:
    """Takes the session lock ``name`` on ``conn`` if free; True when taken."""
    got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key_of(name)}).scalar()
    conn.commit()
    return bool(got)


def release(conn: Connection, key: int) -> None:
    try:
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        conn.commit()
    except Exception:
        # A broken session has released its locks already; drop it from the pool.
        conn.invalidate()
