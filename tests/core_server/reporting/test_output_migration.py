"""The migration 0010_report_output creates exactly the tables
``core_server.reporting.output.tables`` declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Table

from core_server import db
from core_server.reporting.output import tables


def test_migration_matches_the_table_definitions(database_url: str) -> None:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            names = {t.name for t in vars(tables).values() if isinstance(t, Table)}
            assert names == {"report_output_objects", "report_print_log", "report_reprint_grants"}
            differences = [
                difference
                for difference in compare_metadata(context, db.metadata)
                if any(f"'{name}'" in repr(difference) for name in names)
            ]
    finally:
        engine.dispose()
    assert differences == []
