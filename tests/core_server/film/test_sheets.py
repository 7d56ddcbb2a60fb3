"""Film sheets in the archive: matching rules, the Secondary Capture (checked by dciodvfy), the
register functions and the films-without-exam API. On SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from io import BytesIO

import numpy as np
import pytest
from PIL import Image
from pydicom import dcmread

from core_server import auth, clock
from core_server.film import sheets
from core_server.film.sheet import FilmSheet, ImageBox, compose
from core_server.film.sheets import Hints
from tests.conftest import RunningCore
from tests.core_server.discs.test_cloud_data import patient

DPI = 20


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def core(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres").new_database()
    running = RunningCore(tmp_path_factory.mktemp("sheets") / "data", url).start()
    try:
        yield running
    finally:
        running.stop()


def _sheet(color: bool = False) -> FilmSheet:
    gradient = np.tile(np.arange(32, dtype=np.uint8) * 8, (24, 1))
    return FilmSheet(
        display_format="STANDARD\\2,1",
        film_size="8INX10IN",
        color=color,
        images=[ImageBox(1, gradient), ImageBox(2, 255 - gradient)],
    )


def test_rules_in_order_and_the_secondary_capture(core: RunningCore) -> None:
    ris, archive, engine = core.core.ris, core.core.archive, core.core.engine
    p = patient(core, f"P-SHEET-{engine.dialect.name}", "李^小明")
    first = p.exam("one", status="in_progress", images=1)
    second = p.exam("two", status="completed", images=1)
    by_accession = sheets.store_sheet(
        archive, ris, _sheet(), dpi=DPI, hints=Hints(words=(p.accessions["two"],))
    )
    assert (by_accession.exam_id, by_accession.matched_by) == (second, "accession")
    by_patient = sheets.store_sheet(
        archive, ris, _sheet(), dpi=DPI, hints=Hints(patient_id=p.patient_id)
    )
    assert (by_patient.exam_id, by_patient.matched_by) == (first, "patient")  # in progress first
    (stored,) = archive.locate({"SOPInstanceUID": by_accession.sop_instance_uid})
    ds = dcmread(stored.path)
    assert ds.StudyInstanceUID == ris.exam(second).study_instance_uid
    assert str(ds.PatientName) == ris.patient(p.patient_id).dicom_name
    assert np.array_equal(ds.pixel_array, np.asarray(compose(_sheet(), DPI)))
    if shutil.which("dciodvfy"):
        checked = subprocess.run(["dciodvfy", str(stored.path)], capture_output=True, text=True)
        errors = [line for line in checked.stderr.splitlines() if line.startswith("Error")]
        assert errors == [], checked.stderr
    assert sheets.sheet_count(engine, second) == 1
    assert [s.id for s in sheets.sheets_of_exams(engine, [first, second])[first]] == [by_patient.id]


def test_colour_sheet_and_station_rule(core: RunningCore) -> None:
    ris, archive, engine = core.core.ris, core.core.archive, core.core.engine
    found = sheets.store_sheet(
        archive, ris, _sheet(color=True), dpi=DPI, hints=Hints(calling_ae="NOEXAMHERE")
    )
    assert found.exam_id is None and found.matched_by == ""
    (stored,) = archive.locate({"SOPInstanceUID": found.sop_instance_uid})
    ds = dcmread(stored.path)
    assert ds.PhotometricInterpretation == "RGB" and ds.SamplesPerPixel == 3
    assert np.array_equal(ds.pixel_array, np.asarray(compose(_sheet(color=True), DPI)))
    assert found.id in [s.id for s in sheets.unmatched_sheets(engine)]
    today = ris.exams(day=clock.today(), status=["in_progress", "completed"])
    station = next((e for e in today if e.station_ae.strip()), None)
    if station is not None:  # exams booked on a station: its latest is the station's film
        matched = sheets.store_sheet(
            archive, ris, _sheet(), dpi=DPI, hints=Hints(calling_ae=station.station_ae.strip())
        )
        assert matched.matched_by == "station"


def test_mark_printed_and_link(core: RunningCore) -> None:
    ris, archive, engine = core.core.ris, core.core.archive, core.core.engine
    p = patient(core, f"P-LINK-{engine.dialect.name}")
    exam_id = p.exam("ct", status="completed", images=1)
    orphan = sheets.store_sheet(archive, ris, _sheet(), dpi=DPI, hints=Hints(calling_ae="WSX"))
    assert orphan.exam_id is None
    at = clock.now()
    sheets.mark_printed(engine, orphan.id, "DRYSTAR", 2, at)
    row = sheets.sheet(engine, orphan.id)
    assert row.printer == "DRYSTAR" and row.printed_copies == 2 and row.printed_at is not None
    with core.api() as admin:
        listed = admin.get("/api/film/sheets/unmatched").json()
        assert orphan.id in [s["id"] for s in listed]
        answer = admin.post(f"/api/film/sheets/{orphan.id}/exam", json={"exam_id": exam_id})
        assert answer.status_code == 200, answer.text
        assert answer.json()["exam_id"] == exam_id
        again = admin.post(f"/api/film/sheets/{orphan.id}/exam", json={"exam_id": exam_id})
        assert again.status_code == 409 and again.json()["detail"]["code"] == "film.sheet_has_exam"
        missing = admin.post("/api/film/sheets/999999/exam", json={"exam_id": exam_id})
        assert missing.status_code == 404
        counted = admin.get(f"/api/film/exams/{exam_id}/sheets").json()
        assert counted["count"] == 1 and counted["sheets"][0]["id"] == orphan.id
    (stored,) = archive.locate({"SOPInstanceUID": orphan.sop_instance_uid})
    assert dcmread(stored.path).AccessionNumber == ris.exam(exam_id).accession_number
    assert orphan.id not in [s.id for s in sheets.unmatched_sheets(engine)]


def test_technician_finds_the_exam_and_sees_the_picture(core: RunningCore) -> None:
    ris, archive, engine = core.core.ris, core.core.archive, core.core.engine
    p = patient(core, f"P-TECH-{engine.dialect.name}", "赵^一")
    exam_id = p.exam("ct", status="completed", images=1)
    orphan = sheets.store_sheet(archive, ris, _sheet(), dpi=DPI, hints=Hints(calling_ae="WSY"))
    name = f"tech-{engine.dialect.name}"
    auth.create_user(engine, name, "Technician-2026", "technician", display_name="技师")
    auth.create_user(engine, f"doc-{name}", "Clinician-2026", "clinician", display_name="医生")
    with core.api(name, "Technician-2026") as tech:
        assert orphan.id in [s["id"] for s in tech.get("/api/film/sheets/unmatched").json()]
        jpeg = tech.get(f"/api/film/sheets/{orphan.id}/picture.jpg")
        assert jpeg.headers["content-type"] == "image/jpeg"
        assert Image.open(BytesIO(jpeg.content)).size == (orphan.width, orphan.height)  # 160 px
        (found,) = tech.get(
            "/api/film/sheets/exams", params={"accession": p.accessions["ct"]}
        ).json()
        assert found["id"] == exam_id and found["patient_name"] == "赵一"
        assert tech.get("/api/film/sheets/exams", params={"accession": "NO-SUCH"}).json() == []
        assert tech.post(f"/api/film/sheets/{orphan.id}/exam", json={"exam_id": exam_id}).is_success
        assert tech.get("/film/sheets").status_code == 200
    with core.api(f"doc-{name}", "Clinician-2026") as clinician:
        assert clinician.get("/api/film/sheets/unmatched").status_code == 403
        assert clinician.get(f"/api/film/sheets/{orphan.id}/picture.jpg").status_code == 403
