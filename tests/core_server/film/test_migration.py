"""The migrations of the film domain create exactly the tables its modules declare, on SQLite
and PostgreSQL."""

from __future__ import annotations

import importlib
import pkgutil

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Table

import core_server.film
from core_server import db


def _film_tables() -> set[str]:
    names: set[str] = set()
    for module in pkgutil.iter_modules(core_server.film.__path__):
        if module.name.endswith("tables"):
            loaded = importlib.import_module(f"core_server.film.{module.name}")
            names |= {t.name for t in vars(loaded).values() if isinstance(t, Table)}
    return names


def test_migrations_match_the_table_definitions(database_url: str) -> None:
    names = _film_tables()
    assert "film_sheets" in names
    engine = db.make_engine(database_url)
    db.migrate(engine)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = [
                d
                for d in compare_metadata(context, db.metadata)
                if any(f"'{name}'" in repr(d) for name in names)
            ]
    finally:
        engine.dispose()
    assert differences == []
