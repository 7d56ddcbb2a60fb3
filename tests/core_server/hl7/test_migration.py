"""The migration 0004_hl7 creates exactly the tables ``core_server.hl7.tables`` declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core_server import db
from core_server.hl7 import tables  # noqa: F401  (the tables compared)


def test_migration_matches_the_table_definitions(database_url: str) -> None:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = [
                difference
                for difference in compare_metadata(context, db.metadata)
                if "hl7_" in repr(difference)
            ]
    finally:
        engine.dispose()
    assert differences == []
