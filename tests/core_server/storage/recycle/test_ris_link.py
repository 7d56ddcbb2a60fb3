"""An exam's link to its study survives the study's deletion and restore (SQLite and
PostgreSQL): while the study is in the bin the exam shows no images and the bin says the study
is deleted; restored, the exam has its images again, with no new matching needed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom.uid import generate_uid

from core_server import db
from core_server.archive import Archive, Origin
from core_server.archive import recycle as bin_
from core_server.events import EventBus
from core_server.ris import OrderIn, PatientIn, ProcedureRequest, Ris, records
from core_server.storage.recycle.service import RecycleBin
from tests.dicom_data import encode, make_ct


@pytest.fixture
def ris_and_bin(database_url: str, tmp_path: Path) -> Iterator[tuple[Ris, RecycleBin]]:
    engine = db.make_engine(database_url)
    db.migrate(engine)
    bus = EventBus()
    archive = Archive(engine, tmp_path / "storage", bus)
    ris = Ris(engine, bus, archive, files_dir=tmp_path / "ris")
    ris.start()
    try:
        yield ris, RecycleBin(engine, archive, bus)
    finally:
        engine.dispose()


def test_the_exam_keeps_its_study_link(ris_and_bin: tuple[Ris, RecycleBin]) -> None:
    ris, recycle_bin = ris_and_bin
    ris.register_patient(PatientIn("RL1", "张三"), username="reg")
    (exam,) = ris.place_order(
        "RL1", "", OrderIn("O-RL1", (ProcedureRequest("CT-CHEST"),)), username="reg"
    ).exams
    study = generate_uid()
    for number in (1, 2):
        ds = make_ct(
            patient_id="RL1",
            study_uid=study,
            accession=exam.accession_number,
            instance_number=number,
        )
        recycle_bin.archive.store_instance(encode(ds), Origin("dimse", "CT01"))
    assert ris.exam(exam.id).images == 2

    entry = recycle_bin.delete("study", study, username="admin", reason="r")
    assert ris.exam(exam.id).images == 0
    with db.read(ris.engine) as conn:
        assert records.studies_of_many(conn, [exam.id]) == {exam.id: [study]}  # link kept
    assert bin_.holds_study(ris.engine, study)

    recycle_bin.restore(entry.id, username="admin")
    assert ris.exam(exam.id).images == 2
    assert ris.exam(exam.id).studies == (study,)
    assert not bin_.holds_study(ris.engine, study)
