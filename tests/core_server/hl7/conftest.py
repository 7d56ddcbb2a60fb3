"""An HL7 service (listener + sender + status subscriber) on a migrated database, with the RIS:
``hl7_setup`` on SQLite, ``hl7_on`` on SQLite and PostgreSQL in turn (for what depends on the
database: the message log, duplicates, the queue)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from core_server import db
from core_server.events import EventBus
from core_server.hl7 import Hl7Service
from core_server.ris import Ris


@dataclass
class Hl7Setup:
    engine: Engine
    bus: EventBus
    ris: Ris
    service: Hl7Service

    @property
    def port(self) -> int:
        return self.service.port


@contextmanager
def running(database_url: str, **options: Any) -> Iterator[Hl7Setup]:
    """``options``: more keyword arguments of :class:`Hl7Service`."""
    engine = db.make_engine(database_url)
    db.migrate(engine)
    bus = EventBus()
    ris = Ris(engine, bus)
    ris.start()  # seeds the exam item catalogue
    service = Hl7Service(
        engine,
        ris,
        bus,
        host="127.0.0.1",
        port=0,
        application="PACS",
        poll_seconds=0.05,
        **options,
    )
    service.start()
    try:
        yield Hl7Setup(engine, bus, ris, service)
    finally:
        service.stop()
        engine.dispose()


@pytest.fixture
def hl7_setup(tmp_path: Path) -> Iterator[Hl7Setup]:
    with running(f"sqlite:///{tmp_path / 'core.db'}") as setup:
        yield setup


@pytest.fixture
def hl7_on(database_url: str) -> Iterator[Hl7Setup]:
    with running(database_url) as setup:
        yield setup
