"""A migrated PostgreSQL database for the cluster's tests (the cluster is PostgreSQL's)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from core_server import db
from tests.postgres import Cluster


@pytest.fixture
def pg_url(postgres: Cluster) -> str:
    url = postgres.new_database()
    engine = db.make_engine(url)
    db.migrate(engine)
    engine.dispose()
    return url


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = db.make_engine(pg_url)
    yield engine
    engine.dispose()
