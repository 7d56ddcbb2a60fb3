"""The suite's cores start from a migrated copy of the schema (tests/conftest.py
``give_schema``); this one proves what that skips: a core started on an empty database migrates
it itself, on each backend, and serves."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect

from core_server import db
from tests.conftest import RunningCore


@pytest.mark.parametrize("premigrated", [False, True], ids=["empty", "premigrated"])
def test_a_core_has_every_table_and_serves(
    tmp_path: Path, database_url: str, premigrated: bool
) -> None:
    """Empty: the core migrates the database itself. Premigrated: the suite's copy of the
    migrated schema (what every other test starts from) has every table too."""
    running = RunningCore(tmp_path / "data", database_url, premigrated=premigrated).start()
    try:
        with running.api() as client:
            assert client.get("/api/auth/me").status_code == 200
        engine = db.make_engine(running.settings.effective_database_url)
        try:
            tables = set(inspect(engine).get_table_names())
        finally:
            engine.dispose()
        assert set(db.metadata.tables) <= tables
    finally:
        running.stop()
