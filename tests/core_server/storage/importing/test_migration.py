"""The import migration creates exactly the tables the importing part declares, on SQLite and
PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Table

from core_server import db
from core_server.storage.importing import tables


def test_migrations_match_the_table_definitions(database_url: str) -> None:
    names = {t.name for t in vars(tables).values() if isinstance(t, Table)}
    assert names == {
        "storage_import_sessions",
        "storage_import_patients",
        "storage_import_files",
        "storage_import_uids",
    }
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
