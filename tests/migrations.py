"""The migration-vs-tables check each domain's tests make: after ``db.migrate``, what Alembic's
autogenerate finds different from the declared tables, limited to the named tables."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core_server import db


def schema_differences(database_url: str, table_names: Iterable[str]) -> list[Any]:
    """Differences between the migrated database and ``db.metadata`` that name one of
    ``table_names`` (an empty list when the migrations make exactly those tables)."""
    quoted = {f"'{name}'" for name in table_names}
    engine = db.make_engine(database_url)
    db.migrate(engine)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return [
                d
                for d in compare_metadata(context, db.metadata)
                if any(q in repr(d) for q in quoted)
            ]
    finally:
        engine.dispose()
