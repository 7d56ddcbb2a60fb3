"""Migration 0130 creates exactly the tiers tables the code declares, on SQLite and
PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Table

from core_server import db
from core_server.archive.areas import tables


def test_migration_matches_the_table_definitions(database_url: str) -> None:
    names = {t.name for t in vars(tables).values() if isinstance(t, Table)}
    assert names == {"archive_areas", "archive_copies", "archive_not_online", "archive_checks"}
    engine = db.make_engine(database_url)
    db.migrate(engine)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = [
                d
                for d in compare_metadata(context, db.metadata)
                if any(f"'{name}'" in repr(d) for name in names)
            ]
    finally:
        engine.dispose()
    assert differences == []
