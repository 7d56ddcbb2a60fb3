"""A queue service on a migrated database (SQLite and PostgreSQL) with a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from core_server import db
from core_server.events import EventBus
from core_server.queueing import ExamInfo, Queue, QueueService, Room, Ticket


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Desk:
    service: QueueService
    clock: Clock
    exam_ids: Iterator[int]

    def arrive(self, name: str, *, minutes: float = 1, **exam: object) -> Ticket:
        """A patient arrives ``minutes`` after the previous one and gets a CT ticket."""
        self.clock.advance(minutes=minutes)
        exam_id = next(self.exam_ids)
        values: dict[str, object] = {
            "exam_id": exam_id,
            "accession": f"A{exam_id:05d}",
            "patient_id": f"P{exam_id:05d}",
            "patient_name": name,
            "exam_name": "胸部CT平扫",
            "modality": "CT",
        }
        values.update(exam)
        return self.service.issue(ExamInfo(**values), username="registrar")  # type: ignore[arg-type]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(database_url: str, clock: Clock) -> Iterator[QueueService]:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    service = QueueService(engine, EventBus(), clock=clock)
    try:
        yield service
    finally:
        engine.dispose()


@pytest.fixture
def desk(service: QueueService, clock: Clock) -> Desk:
    """Queue CT (prefix CT) served by rooms CT1 and CT2, no minimum call interval."""
    service.save_queue(Queue(code="CT", name="CT检查", modality="CT", prefix="CT"), create=True)
    for code in ("CT1", "CT2"):
        service.save_room(
            Room(code=code, name=f"{code}室", queues=("CT",), min_call_interval_seconds=0),
            create=True,
        )
    return Desk(service, clock, count(1))


def change_queue(service: QueueService, **changes: object) -> None:
    from dataclasses import replace

    service.save_queue(replace(service.queue("CT"), **changes), create=False)  # type: ignore[arg-type]
