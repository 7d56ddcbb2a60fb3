"""Database infrastructure: one metadata for every domain's tables, engines, migrations.

SQLite (default) runs in WAL mode with ``synchronous=FULL`` so that a committed row survives a
power cut (a writer whose rows can be rebuilt may ask for less). Writers take the write lock at
``BEGIN IMMEDIATE`` (see :func:`write`) instead of upgrading a read lock mid-transaction, which
SQLite would answer with SQLITE_BUSY.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    DateTime,
    Dialect,
    Engine,
    Integer,
    MetaData,
    String,
    TypeDecorator,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import make_url

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

# 64-bit keys where rows can pass 2^31 (instances); SQLite only auto-increments INTEGER.
BigId = BigInteger().with_variant(Integer, "sqlite")


def Key(length: int) -> String:
    """A string column that DICOM matching searches: byte-wise (C) ordering on PostgreSQL, so
    that a ``LIKE 'ZHANG%'`` prefix can walk its B-tree index (SQLite does so by default)."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """A moment, stored in UTC and always handed back aware (SQLite keeps no offset and would
    hand back naive datetimes). Writing a naive datetime is a programming error: it raises."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the core stores aware datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def serialize_writes(conn: Connection, key: int) -> None:
    """One write transaction under ``key`` at a time on PostgreSQL, as SQLite's BEGIN
    IMMEDIATE gives on its own: for a domain whose outbox is read by cursor, where an id taken
    by a transaction that commits after a higher one would be skipped by a reader already past
    it. Take it first in the transaction, before any row lock, so it cannot deadlock."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 60}, pool_size=32
        )
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_size=16, max_overflow=32, pool_pre_ping=True)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling is switched off so that ``begin`` below decides.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        "journal_mode=WAL",
        "synchronous=FULL",
        "foreign_keys=ON",
        "busy_timeout=60000",
        "cache_size=-65536",
        "temp_store=MEMORY",
        # LIKE is case-sensitive as DICOM matching wants (person names are searched on
        # upper-cased keys) and so prefix patterns can use an index.
        "case_sensitive_like=ON",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    options = conn.get_execution_options()
    _synchronous(conn.connection.info, conn.exec_driver_sql, options.get("durable", True))
    conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("write", False) else "BEGIN")


def _synchronous(info: dict[Any, Any], execute: Any, durable: bool) -> None:
    """synchronous is a setting of the SQLite connection, not of the transaction: set back to
    FULL for every transaction but the non-durable writes (any transaction may write)."""
    level = "FULL" if durable else "NORMAL"
    if info.get("synchronous", "FULL") != level:
        execute(f"PRAGMA synchronous={level}")
        info["synchronous"] = level


_sqlite_writers: dict[int, threading.Lock] = {}
_NOT_DURABLE = "SET LOCAL synchronous_commit TO OFF"  # PostgreSQL: this transaction only


@contextmanager
def _one_writer(engine: Engine) -> Iterator[bool]:
    """On SQLite the threads of this process queue on a lock first: SQLite admits one writer,
    and its busy handler polls with sleeps of up to 100 ms, which starves 20 concurrent
    writers. Yields whether the database is SQLite."""
    sqlite = is_sqlite(engine)
    lock = _sqlite_writers.setdefault(id(engine), threading.Lock()) if sqlite else None
    if lock is not None:
        lock.acquire()
    try:
        yield sqlite
    finally:
        if lock is not None:
            lock.release()


@contextmanager
def write(engine: Engine, durable: bool = True) -> Iterator[Connection]:
    """A transaction that will write: committed on success, rolled back on error.

    ``durable=False`` returns from the commit without waiting for the disk (SQLite
    ``synchronous=NORMAL``, PostgreSQL ``synchronous_commit off``): the transaction stays atomic
    and is made durable by the next durable commit or checkpoint, but a power cut may lose it.
    Only for rows that can be rebuilt from what is durable already (the archive index, from its
    files)."""
    with _one_writer(engine) as sqlite, engine.connect() as conn:
        conn = conn.execution_options(write=True, durable=durable)
        with conn.begin():
            if not durable and not sqlite:
                conn.exec_driver_sql(_NOT_DURABLE)
            yield conn


@contextmanager
def write_raw(engine: Engine, durable: bool = True) -> Iterator[Any]:
    """:func:`write` on the driver's own connection, yielding its cursor: for the one
    transaction per stored object, where SQLAlchemy's connection, transaction and statement
    layers took most of the Python time spent indexing (py-spy). Statements come from
    :class:`Prepared`; anything beyond a few fixed statements belongs in :func:`write`."""
    with _one_writer(engine) as sqlite:
        connection = engine.raw_connection()  # from the pool, as write() would take it
        try:
            cursor = connection.cursor()
            if sqlite:
                _synchronous(connection.info, cursor.execute, durable)
                cursor.execute("BEGIN IMMEDIATE")
            elif not durable:  # psycopg has begun the transaction already
                cursor.execute(_NOT_DURABLE)
            try:
                yield cursor
            except BaseException:
                connection.rollback()
                raise
            connection.commit()
        finally:
            connection.close()  # back to the pool


class Prepared:
    """A SQLAlchemy statement compiled once for a dialect, to run on a :func:`write_raw`
    cursor: its SQL, and its parameters put in the driver's style with the column types' own
    conversions (datetimes on SQLite, for one)."""

    def __init__(self, statement: Any, dialect: Any, columns: tuple[str, ...] = ()) -> None:
        # columns: what an INSERT sets (its other columns are left to their defaults)
        compiled = statement.compile(dialect=dialect, column_keys=list(columns) or None)
        self.sql = str(compiled)
        # (the names in the SQL: ``binds`` also holds anonymous keys for literal values)
        named = dict.fromkeys(compiled.bind_names.values())
        self.names: tuple[str, ...] = tuple(compiled.positiontup or named)
        self.positional = compiled.positiontup is not None
        self.convert = {
            name: converter
            for name in self.names
            if (converter := _bind_processor(compiled.binds[name].type, dialect)) is not None
        }
        # the values the statement holds itself (``column == "instance"``), unless given
        self.constants = {
            name: bind.value
            for name in self.names
            if not (bind := compiled.binds[name]).required and bind.value is not None
        }

    def params(self, values: dict[str, Any]) -> Any:
        values = {**self.constants, **values} if self.constants else values
        converted = {
            name: converter(values[name]) if (converter := self.convert.get(name)) else values[name]
            for name in self.names
        }
        return tuple(converted.values()) if self.positional else converted


def _bind_processor(type_: Any, dialect: Any) -> Any:
    return type_.dialect_impl(dialect).bind_processor(dialect)


def starts_with(column: Any, value: str) -> Any:
    """``column LIKE 'value%'``, the pattern bound whole: SQLAlchemy's ``startswith`` binds
    ``:value || '%'``, an expression, and then neither SQLite nor PostgreSQL walks the column's
    index (a full scan of every patient at each keystroke of a search)."""
    escaped = value.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return column.like(escaped + "%", escape="/")


@contextmanager
def read(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn, conn.begin():
        yield conn


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision of every branch (each domain adds its own)."""
    from alembic import command

    with engine.begin() as conn:
        config = alembic_config(conn)
        command.upgrade(config, "heads")


def alembic_config(conn: Connection | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["connection"] = conn
    return config
