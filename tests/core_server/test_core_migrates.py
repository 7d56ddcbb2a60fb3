"""The suite's cores start from a migrated copy of the schema (tests/conftest.py
``give_schema``); this one proves what that skips: a core started on an empty database migrates
it itself, on each backend, and serves."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect

from core_server import db
from tests.conftest import RunningCore


def test_a_core_migrates_an_empty_database(tmp_path: Path, database_url: str) -> None:
    running = RunningCore(tmp_path / "data", database_url, premigrated=False).start()
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


def test_a_premigrated_core_has_every_table(tmp_path: Path, database_url: str) -> None:
    running = RunningCore(tmp_path / "data", database_url).start()
    try:
        engine = db.make_engine(running.settings.effective_database_url)
        try:
            tables = set(inspect(engine).get_table_names())
        finally:
            engine.dispose()
        assert set(db.metadata.tables) <= tables
    finally:
        running.stop()
