"""Migration 0135 creates exactly the tables the compression part declares (with the archive's
replacement journal), on SQLite and PostgreSQL."""

from __future__ import annotations

from core_server.storage.compression import tables
from tests.migrations import schema_differences

NAMES = {"compression_rules", "compression_jobs", "compression_replacements"}


def test_migrations_match_the_table_definitions(database_url: str) -> None:
    assert tables.compression_rules.name in NAMES
    assert schema_differences(database_url, NAMES) == []
