"""The cluster's migration makes exactly its declared tables (SQLite and PostgreSQL)."""

from __future__ import annotations

import core_server.cluster.tables
import core_server.dicom.commitment_jobs  # noqa: F401  (registers the tables)
from tests.migrations import schema_differences


def test_migration_matches_the_tables(database_url: str) -> None:
    assert (
        schema_differences(
            database_url, ["cluster_events", "cluster_tickers", "dicom_commitment_reports"]
        )
        == []
    )
