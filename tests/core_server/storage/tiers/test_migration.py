"""Migration 0130 creates exactly the tiers tables the code declares, on SQLite and
PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Table

from core_server.archive.areas import tables
from tests.migrations import schema_differences


def test_migration_matches_the_table_definitions(database_url: str) -> None:
    names = {t.name for t in vars(tables).values() if isinstance(t, Table)}
    assert names == {"archive_areas", "archive_copies", "archive_not_online", "archive_checks"}
    assert schema_differences(database_url, names) == []
