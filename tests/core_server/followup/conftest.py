"""The follow-up service on each database backend, over a real RIS and reporting service,
with the statistics of the same database: ``clinic.exam(...)`` books a performed exam and
(``author=``) has that doctor write its report."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from core_server import clock, db
from core_server.archive import Archive
from core_server.events import EventBus
from core_server.followup import Followup
from core_server.reporting import Content, Doctor, Reporting
from core_server.ris import OrderIn, PatientIn, ProcedureRequest, Ris
from core_server.statistics import Statistics


@dataclass
class Clinic:
    engine: Engine
    ris: Ris
    reporting: Reporting
    followup: Followup
    statistics: Statistics
    count: int = 0
    doctors: dict[str, Doctor] = field(default_factory=dict)

    def doctor(self, username: str = "dr_wang", role: str = "reporting_doctor") -> Doctor:
        return self.doctors.setdefault(username, Doctor(username, role))

    def exam(
        self,
        at: datetime | None = None,
        code: str = "CT-CHEST",
        *,
        author: str = "",
        patient: str = "P",
    ) -> Any:
        """A performed exam at hospital wall-clock ``at`` (default now); with ``author``,
        its report written (and saved) by that doctor."""
        self.count += 1
        n = self.count
        patient_id = f"{patient}{n:04d}" if patient == "P" else patient
        self.ris.register_patient(PatientIn(patient_id, "李^娜"), username="reg")
        when = clock.now() if at is None else clock.from_local(at)
        order = OrderIn(f"O{n:04d}", (ProcedureRequest(code, scheduled_at=when),))
        exam = self.ris.place_order(patient_id, "", order, username="hl7:HIS").exams[0]
        for step in ("arrived", "in_progress", "completed"):
            self.ris.change_status(exam.id, step, username="tech1")
        if author:
            doctor = self.doctor(author)
            report = self.reporting.start(exam.id, doctor)
            self.reporting.save(report.id, doctor, Content(impression="右肺上叶结节，考虑肺癌"))
        return self.ris.exam(exam.id)


@pytest.fixture
def clinic(database_url: str, tmp_path: Path) -> Iterator[Clinic]:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    bus = EventBus()
    archive = Archive(engine, tmp_path / "storage", bus)
    ris = Ris(engine, bus, archive, files_dir=tmp_path / "ris")
    ris.start()
    reporting = Reporting(engine, bus, ris, archive)
    try:
        yield Clinic(
            engine,
            ris,
            reporting,
            Followup(engine, ris, reporting),
            Statistics(engine, "某某市人民医院"),
        )
    finally:
        engine.dispose()
