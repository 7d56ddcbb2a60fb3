"""The recycle migration creates exactly the tables the recycle part declares, on SQLite and
PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core_server import db
from core_server.archive import recycle
from core_server.storage.recycle import tables


def test_migration_matches_the_table_definitions(database_url: str) -> None:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    names = {
        f"'{t.name}'"
        for t in (recycle.recycle_bin, recycle.recycle_bin_rows, tables.recycle_settings)
    }
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = [
                d
                for d in compare_metadata(context, db.metadata)
                if any(name in repr(d) for name in names)
            ]
    finally:
        engine.dispose()
    assert differences == []
