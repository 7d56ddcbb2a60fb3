"""A RIS, reporting and statistics on each backend whose clock the test sets: an exam's
every step (ordered, arrived, started, completed, first report, signed) happens at the
hospital wall-clock time the test names, through the services themselves."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core_server import clock, db
from core_server.archive import Archive
from core_server.events import EventBus
from core_server.reporting import Content, Doctor, Reporting
from core_server.ris import OrderIn, PatientIn, ProcedureRequest, Ris
from core_server.statistics import Statistics

RESIDENT = Doctor("li.resident", "reporting_doctor")
ATTENDING = Doctor("wang.attending", "reviewing_doctor")


def local(text: str) -> datetime:
    return clock.from_local(datetime.fromisoformat(text))


@dataclass
class Timeline:
    engine: Engine
    ris: Ris
    reporting: Reporting
    statistics: Statistics
    now: datetime = field(default_factory=clock.now)
    count: int = 0

    def at(self, text: str) -> None:
        """The clock reads this hospital wall-clock time (``2026-11-30 08:00``) from now on."""
        self.now = local(text)

    def exam(
        self,
        ordered: str,
        *,
        arrived: str | None = None,
        started: str | None = None,
        completed: str | None = None,
        reported: str | None = None,
        signed: str | None = None,
        code: str = "CT-CHEST",
        emergency: bool = False,
        cancelled: str | None = None,
    ) -> int:
        """An exam ordered (and booked for) ``ordered``, taken as far as the times given."""
        self.count += 1
        n = self.count
        self.at(ordered)
        self.ris.register_patient(PatientIn(f"T{n:04d}", "王^建国"), username="reg")
        order = OrderIn(
            f"TO{n:04d}",
            (ProcedureRequest(code, scheduled_at=local(ordered)),),
            emergency=emergency,
        )
        exam_id = self.ris.place_order(f"T{n:04d}", "", order, username="hl7:HIS").exams[0].id
        if cancelled:
            self.at(cancelled)
            self.ris.change_status(exam_id, "cancelled", username="reg")
        for status, when in (
            ("arrived", arrived),
            ("in_progress", started),
            ("completed", completed),
        ):
            if when is None:
                return exam_id
            self.at(when)
            self.ris.change_status(exam_id, status, username="tech1")
        if reported is None:
            return exam_id
        self.at(reported)
        report = self.reporting.start(exam_id, RESIDENT)
        self.reporting.submit(report.id, RESIDENT, Content("<p>未见异常</p>", "<p>未见异常</p>"))
        if signed is not None:
            self.at(signed)
            self.reporting.sign(report.id, ATTENDING)
        return exam_id


@pytest.fixture
def timeline(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Timeline]:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    bus = EventBus()
    archive = Archive(engine, tmp_path / "storage", bus)
    ris = Ris(engine, bus, archive, files_dir=tmp_path / "ris")
    ris.start()
    reporting = Reporting(engine, bus, ris, archive)
    line = Timeline(engine, ris, reporting, Statistics(engine, "某某市人民医院"))
    monkeypatch.setattr(clock, "now", lambda: line.now)
    try:
        yield line
    finally:
        engine.dispose()
