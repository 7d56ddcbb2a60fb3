"""Migration 0133 creates exactly the tables core_server.storage.tiers.rules_tables declares,
on SQLite and PostgreSQL."""

from __future__ import annotations

from core_server.storage.tiers import rules_tables as tables
from tests.migrations import schema_differences

NAMES = [
    tables.storage_rules.name,
    tables.storage_rule_tasks.name,
    tables.storage_rule_settings.name,
    tables.storage_study_reads.name,
]


def test_migration_matches_the_table_definitions(database_url: str) -> None:
    assert schema_differences(database_url, NAMES) == []
