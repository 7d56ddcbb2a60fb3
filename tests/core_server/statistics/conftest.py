"""A RIS and the statistics service on each database backend, and a way to make exams with
known answers: a day, a modality, a patient type, a referring department, a final status."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from core_server import clock, db
from core_server.archive import Archive
from core_server.events import EventBus
from core_server.ris import OrderIn, PatientIn, ProcedureRequest, Ris, VisitIn
from core_server.statistics import Statistics

# The steps from scheduled to each final status, as the desk and the modality take them.
PATH = {
    "scheduled": (),
    "arrived": ("arrived",),
    "in_progress": ("arrived", "in_progress"),
    "completed": ("arrived", "in_progress", "completed"),
    "cancelled": ("cancelled",),
    "no_show": ("no_show",),
}


@dataclass
class Department:
    """Makes exams for the tests: ``exam(...)`` books one and moves it to ``status``."""

    ris: Ris
    statistics: Statistics
    count: int = 0

    def exam(
        self,
        at: datetime,
        code: str = "CT-CHEST",
        *,
        status: str = "completed",
        patient_class: str = "outpatient",
        referring: str = "呼吸内科",
        patient: str = "王^建国",
    ) -> Any:
        """``at``: a hospital wall-clock time (naive) or an aware one."""
        self.count += 1
        n = self.count
        patient_id = f"S{n:05d}"
        self.ris.register_patient(PatientIn(patient_id, patient), username="reg")
        visit = f"V{n:05d}"
        self.ris.create_visit(
            patient_id, "", VisitIn(visit, patient_class=patient_class), username="hl7:HIS"
        )
        when = at if at.tzinfo else clock.from_local(at)
        order = OrderIn(
            f"O{n:05d}",
            (ProcedureRequest(code, scheduled_at=when),),
            visit_number=visit,
            referring_department=referring,
        )
        exam = self.ris.place_order(patient_id, "", order, username="hl7:HIS").exams[0]
        for step in PATH[status]:
            self.ris.change_status(exam.id, step, username="tech1")
        return self.ris.exam(exam.id)


@pytest.fixture
def department(database_url: str, tmp_path: Path) -> Iterator[Department]:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    bus = EventBus()
    ris = Ris(engine, bus, Archive(engine, tmp_path / "storage", bus), files_dir=tmp_path / "ris")
    ris.start()
    try:
        yield Department(ris, Statistics(engine, "某某市人民医院"))
    finally:
        engine.dispose()
