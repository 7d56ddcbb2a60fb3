"""Migration 0135 creates exactly the tables the compression part declares (with the archive's
replacement journal), on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core_server import db
from core_server.storage.compression import tables

NAMES = {"compression_rules", "compression_jobs", "compression_replacements"}


def test_migrations_match_the_table_definitions(database_url: str) -> None:
    assert tables.compression_rules.name in NAMES
    engine = db.make_engine(database_url)
    db.migrate(engine)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = [
                d
                for d in compare_metadata(context, db.metadata)
                if any(f"'{name}'" in repr(d) for name in NAMES)
            ]
    finally:
        engine.dispose()
    assert differences == []
