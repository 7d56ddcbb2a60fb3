"""The import migration creates exactly the tables the importing part declares, on SQLite and
PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Table

from core_server.storage.importing import tables
from tests.migrations import schema_differences


def test_migrations_match_the_table_definitions(database_url: str) -> None:
    names = {t.name for t in vars(tables).values() if isinstance(t, Table)}
    assert names == {
        "storage_import_sessions",
        "storage_import_patients",
        "storage_import_files",
        "storage_import_uids",
    }
    assert schema_differences(database_url, names) == []
