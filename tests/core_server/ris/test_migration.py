"""The migrations 0003_ris and 0008_modalities_charset create exactly what
``core_server.ris.tables`` and the modality registry's table declare, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core_server import db
from core_server.modalities import tables as modality_tables  # noqa: F401  (compared)
from core_server.ris import tables  # noqa: F401  (the tables compared)


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
