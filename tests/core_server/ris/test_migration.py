"""The migrations 0003_ris, 0012_ris_search and 0008_modalities_charset create exactly what
``core_server.ris.tables`` and the modality registry's table declare, on both databases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import event

from core_server import db
from core_server.modalities import tables as modality_tables  # noqa: F401  (compared)
from core_server.ris import (
    patients,
    tables,  # noqa: F401  (the tables compared)
)


def test_migrations_match_the_table_definitions(database_url: str) -> None:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = [
                difference
                for difference in compare_metadata(context, db.metadata)
                if "ris_" in repr(difference) or "ascii_only" in repr(difference)
            ]
    finally:
        engine.dispose()
    assert differences == []


def test_patient_search_walks_indexes_not_the_whole_table(tmp_path: Path) -> None:
    """Every term of the registrars' search (ID, ID card, phone, name/pinyin/initials prefix)
    is answered from an index: SQLite's plan has no full scan of the patients."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'core.db'}")
    db.migrate(engine)
    executed: list[tuple[str, Any]] = []

    def capture(*args: Any) -> None:  # before_cursor_execute(conn, cursor, statement, params...)
        executed.append((args[2], args[3]))

    event.listen(engine, "before_cursor_execute", capture)
    with db.read(engine) as conn:
        patients.search(conn, text="zhang_s%")
        statement, parameters = next(e for e in executed if "FROM ris_patients" in e[0])
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    engine.dispose()
    details = [str(row[-1]) for row in plan]
    assert not any(d.startswith("SCAN ris_patients") for d in details), details
    for index in ("name", "name_pinyin", "name_initials", "phone", "id_card_number"):
        assert any(f"ix_ris_patients_{index} " in d for d in details), (index, details)
