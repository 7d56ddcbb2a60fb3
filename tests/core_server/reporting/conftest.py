"""A reporting domain over a RIS on each database backend, and helpers that make performed
exams to report on."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from core_server import db
from core_server.archive import Archive
from core_server.events import EventBus
from core_server.reporting import Doctor, Reporting
from core_server.ris import OrderIn, PatientIn, ProcedureRequest, Ris

RESIDENT = Doctor("li.resident", "reporting_doctor")
RESIDENT2 = Doctor("zhao.resident", "reporting_doctor")
ATTENDING = Doctor("wang.attending", "reviewing_doctor")
CHIEF = Doctor("chen.chief", "reviewing_doctor")


@dataclass
class Recorder:
    """Collects the events published on the bus, by topic."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __call__(self, topic: str, payload: dict[str, Any]) -> None:
        self.events.append((topic, payload))

    def topics(self) -> list[str]:
        return [t for t, _ in self.events]


@dataclass
class Setup:
    engine: Engine
    bus: EventBus
    ris: Ris
    reporting: Reporting
    events: Recorder
    archive: Archive

    def exam(
        self,
        patient_id: str = "P1",
        name: str = "张三",
        procedure: str = "CT-CHEST",
        *,
        emergency: bool = False,
        birth_date: date | None = None,
        placer: str = "",
        placer_application: str = "",
    ) -> int:
        """A performed (completed) exam of a registered patient."""
        self.ris.register_patient(
            PatientIn(patient_id, name, birth_date=birth_date, sex="M"), username="reg"
        )
        placer = placer or f"ORD-{patient_id}-{procedure}-{len(self.events.events)}"
        order = self.ris.place_order(
            patient_id,
            "",
            OrderIn(
                placer,
                (ProcedureRequest(procedure),),
                emergency=emergency,
                placer_application=placer_application,
            ),
            username="reg",
        )
        exam_id = order.exams[0].id
        for status in ("arrived", "in_progress", "completed"):
            self.ris.change_status(exam_id, status, username="tech")
        return exam_id


def build(database_url: str, storage: Path) -> Iterator[Setup]:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    bus = EventBus()
    archive = Archive(engine, storage, bus)
    ris = Ris(engine, bus, archive)
    ris.start()
    reporting = Reporting(engine, bus, ris, archive)
    reporting.set_grade(CHIEF.username, "chief")
    recorder = Recorder()
    for topic in (
        "reporting.report_submitted",
        "reporting.report_signed",
        "reporting.report_rejected",
        "reporting.report_reopened",
        "reporting.critical_value_raised",
        "reporting.critical_value_escalated",
        "reporting.critical_value_acknowledged",
    ):
        bus.subscribe(topic, recorder)
    try:
        yield Setup(engine, bus, ris, reporting, recorder, archive)
    finally:
        engine.dispose()


@pytest.fixture
def setup(database_url: str, tmp_path: Path) -> Iterator[Setup]:
    """On SQLite and PostgreSQL in turn."""
    yield from build(database_url, tmp_path / "storage")


@pytest.fixture
def sqlite_setup(tmp_path: Path) -> Iterator[Setup]:
    """SQLite only: for what does not depend on the database."""
    yield from build(f"sqlite:///{tmp_path / 'core.db'}", tmp_path / "storage")
