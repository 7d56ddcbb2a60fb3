"""A RIS on each database backend, with an archive on a temporary storage area."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core_server import db
from core_server.archive import Archive
from core_server.events import EventBus
from core_server.ris import Ris


class Recorder:
    """Collects the events published on a topic."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, _topic: str, payload: dict[str, Any]) -> None:
        self.events.append(payload)


@pytest.fixture
def ris(database_url: str, tmp_path: Path) -> Iterator[Ris]:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    bus = EventBus()
    archive = Archive(engine, tmp_path / "storage", bus)
    service = Ris(engine, bus, archive, files_dir=tmp_path / "ris")
    service.start()
    try:
        yield service
    finally:
        engine.dispose()


@pytest.fixture
def status_events(ris: Ris) -> Recorder:
    recorder = Recorder()
    ris.bus.subscribe("ris.exam_status_changed", recorder)
    return recorder
