"""The atna migration creates exactly the table core_server.atna.tables declares, on SQLite and
PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core_server import db
from core_server.atna import tables


def test_migration_matches_the_table_definition(database_url: str) -> None:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            name = f"'{tables.atna_cursors.name}'"
            differences = [d for d in compare_metadata(context, db.metadata) if name in repr(d)]
    finally:
        engine.dispose()
    assert differences == []
