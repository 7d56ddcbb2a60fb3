"""Migration 0133 creates exactly the tables core_server.storage.tiers.rules_tables declares,
on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core_server import db
from core_server.storage.tiers import rules_tables as tables

NAMES = [
    tables.storage_rules.name,
    tables.storage_rule_tasks.name,
    tables.storage_rule_settings.name,
    tables.storage_study_reads.name,
]


def test_migration_matches_the_table_definitions(database_url: str) -> None:
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
