"""Fixtures of the rules tests: on each database an archive with two filesystem areas
("near", "far") besides the online one, a started RIS that links images to its exams, and a
helper storing small studies with chosen attributes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydicom.uid import generate_uid

from core_server import db
from core_server.archive import Archive, Origin
from core_server.archive.areas import AreaSpec
from core_server.events import EventBus
from core_server.ris import OrderIn, PatientIn, ProcedureRequest, Ris
from core_server.storage.tiers.runner import RulesRunner
from tests.dicom_data import encode, make_ct


@dataclass
class World:
    archive: Archive
    ris: Ris
    runner: RulesRunner
    used: list[int]  # the online area's (used, total) bytes the runner is told

    @property
    def engine(self) -> Any:
        return self.archive.engine

    def store(
        self,
        count: int = 2,
        *,
        study: str | None = None,
        patient_id: str = "P001",
        modality: str = "CT",
        study_date: str = "20200101",
        ae: str = "CT01",
        description: str = "AXIAL",
        size: int = 16,
    ) -> tuple[str, list[str]]:
        study = study or generate_uid()
        series = generate_uid()
        uids = []
        for n in range(count):
            ds = make_ct(
                study_uid=study,
                series_uid=series,
                patient_id=patient_id,
                modality=modality,
                study_date=study_date,
                instance_number=n + 1,
                size=size,
                SeriesDescription=description,
            )
            uids.append(
                self.archive.store_instance(encode(ds), Origin("dimse", ae)).sop_instance_uid
            )
        return study, uids

    def exam(self, placer: str, patient_id: str = "P001", code: str = "CT-CHEST") -> Any:
        if not self.ris.find_patients(patient_id=patient_id):
            self.ris.register_patient(PatientIn(patient_id, "王^建国"), username="reg")
        order = OrderIn(placer, (ProcedureRequest(code, room="CT1"),))
        return self.ris.place_order(patient_id, "", order, username="hl7:HIS").exams[0]

    def online_file(self, sop_uid: str) -> Path:
        (answer,) = self.archive.find("IMAGE", {"SOPInstanceUID": sop_uid})
        return self.archive.storage.absolute(answer["_path"])


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    bus = EventBus()
    archive = Archive(engine, tmp_path / "online", bus)
    ris = Ris(engine, bus, archive, files_dir=tmp_path / "ris")
    ris.start()
    for name, rank in (("near", 10), ("far", 20)):
        (tmp_path / name).mkdir()
        archive.areas.create(AreaSpec(name, "filesystem", str(tmp_path / name), rank=rank))
    used = [0, 100]
    runner = RulesRunner(engine, archive, bus, usage=lambda: (used[0], used[1]))
    runner.subscribe()
    try:
        yield World(archive, ris, runner, used)
    finally:
        runner.stop()
        engine.dispose()
