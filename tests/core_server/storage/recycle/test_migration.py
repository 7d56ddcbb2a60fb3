"""The recycle migration creates exactly the tables the recycle part declares, on SQLite and
PostgreSQL."""

from __future__ import annotations

from core_server.archive import recycle
from core_server.storage.recycle import tables
from tests.migrations import schema_differences


def test_migration_matches_the_table_definitions(database_url: str) -> None:
    names = {
        t.name for t in (recycle.recycle_bin, recycle.recycle_bin_rows, tables.recycle_settings)
    }
    assert schema_differences(database_url, names) == []
