"""Migrations 0019 (modalities.tls) and 0029 (hl7_destinations.tls) create exactly the columns
the tables declare, on SQLite and PostgreSQL; peers registered before stay in clear."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core_server import db
from core_server.hl7 import tables as hl7_tables
from core_server.modalities import Modality, add_modality, get_modality
from core_server.modalities.tables import modalities


def test_migrations_match_the_tls_columns(database_url: str) -> None:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            names = {modalities.name, hl7_tables.hl7_destinations.name}
            differences = [
                d for d in compare_metadata(context, db.metadata) if _table_of(d) in names
            ]
        add_modality(engine, Modality("OLDCT", "10.0.0.5", 104))
        assert get_modality(engine, "OLDCT").tls is False  # type: ignore[union-attr]
    finally:
        engine.dispose()
    assert differences == []


def _table_of(difference: object) -> str:
    """The table a difference is about: ('add_column', schema, table, ...), a list of
    ('modify_...', schema, table, ...), or ('add_table', Table)."""
    first = difference[0] if isinstance(difference, list) else difference
    assert isinstance(first, tuple)
    if len(first) > 2 and isinstance(first[2], str):
        return first[2]
    return str(getattr(first[1], "name", ""))
