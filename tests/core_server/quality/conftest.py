"""A RIS, the reporting service and quality control on each database backend, with performed
exams made by a named technician and reports written, reviewed and signed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core_server import clock, db
from core_server.archive import Archive
from core_server.events import EventBus
from core_server.quality.service import Actor, Quality
from core_server.reporting import Content, Doctor, Reporting
from core_server.ris import OrderIn, PatientIn, ProcedureRequest, Ris

RESIDENT = Doctor("li.resident", "reporting_doctor")
RESIDENT2 = Doctor("zhao.resident", "reporting_doctor")
ATTENDING = Doctor("wang.attending", "reviewing_doctor")
QC = Actor("qc.doctor", "reviewing_doctor", "10.0.0.9")
TECH = Actor("tech1", "technician", "10.0.0.8")


@dataclass
class Dept:
    engine: Engine
    ris: Ris
    reporting: Reporting
    quality: Quality
    count: int = 0

    def exam(
        self, technician: str = "tech1", at: datetime | None = None, code: str = "CT-CHEST"
    ) -> int:
        """A performed exam, completed by ``technician`` (booked at ``at``, hospital time)."""
        self.count += 1
        n = self.count
        self.ris.register_patient(PatientIn(f"Q{n:04d}", "王^建国"), username="reg")
        when = clock.from_local(at) if at else None
        order = OrderIn(f"QO{n:04d}", (ProcedureRequest(code, scheduled_at=when),))
        exam_id = self.ris.place_order(f"Q{n:04d}", "", order, username="his").exams[0].id
        for step in ("arrived", "in_progress", "completed"):
            self.ris.change_status(exam_id, step, username=technician)
        return exam_id

    def write(self, exam_id: int, doctor: Doctor, findings: str, impression: str) -> int:
        report = self.reporting.start(exam_id, doctor)
        self.reporting.autosave(report.id, doctor, Content(findings, impression))
        return report.id


def build(database_url: str, storage: Path) -> Iterator[Dept]:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    bus = EventBus()
    archive = Archive(engine, storage, bus)
    ris = Ris(engine, bus, archive)
    ris.start()
    reporting = Reporting(engine, bus, ris, archive)
    try:
        yield Dept(engine, ris, reporting, Quality(engine, bus, ris, reporting))
    finally:
        engine.dispose()


@pytest.fixture
def dept(database_url: str, tmp_path: Path) -> Iterator[Dept]:
    """On SQLite and PostgreSQL in turn."""
    yield from build(database_url, tmp_path / "storage")
