"""Migrated PostgreSQL databases for the cluster's tests (the cluster is PostgreSQL's): the
schema is upgraded once per session into a template, and each test gets a fresh copy of it
(``CREATE DATABASE ... TEMPLATE``, a file copy) instead of running every revision again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine

from core_server import db
from tests.postgres import Cluster


@pytest.fixture(scope="session")
def pg_template(postgres: Cluster) -> str:
    url = postgres.new_database()
    engine = db.make_engine(url)
    db.migrate(engine)
    engine.dispose()  # a template must have no sessions when copied
    return url.rsplit("/", 1)[1]


def migrated_database(postgres: Cluster, template: str) -> str:
    name = f"c_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres.url("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return postgres.url(name, driver="postgresql+psycopg")


@pytest.fixture
def pg_url(postgres: Cluster, pg_template: str) -> str:
    return migrated_database(postgres, pg_template)


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = db.make_engine(pg_url)
    yield engine
    engine.dispose()
