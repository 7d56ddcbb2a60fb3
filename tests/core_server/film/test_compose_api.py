"""The web film composer's API in a running core, on SQLite and PostgreSQL: the study's images
with their window, the preview equal pixel for pixel to ``compose()`` of the windowed images,
"print" making a composition job (printed by a pynetdicom Print SCP, which marks the sheet
printed) and archiving the sheet as the viewer's, the refusals; and the cloud-film hook: a
skip_cloud_film printer does not forward a sheet of an exam whose cloud film was opened."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pydicom import dcmread

from core_server import auth
from core_server.discs import cloud, cloud_check
from core_server.discs.cloud_opened import cloud_film_opened
from core_server.film import sheets, windowing
from core_server.film.sheet import FilmSheet, ImageBox, compose
from tests.conftest import RunningCore
from tests.core_server.discs.test_cloud_data import BIRTH, patient
from tests.core_server.film.print_peers import OwnPrinter, own_printer

TECH_PASSWORD = "Technician-2026"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def core(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres").new_database()
    running = RunningCore(tmp_path_factory.mktemp("compose") / "data", url).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def printer() -> Iterator[tuple[OwnPrinter, int]]:
    scp = OwnPrinter()
    with own_printer(scp) as port:
        yield scp, port


def _printer(core: RunningCore, port: int, name: str, **options: Any) -> dict[str, Any]:
    body = {"name": name, "ae_title": "OWNPRINTER", "host": "127.0.0.1", "port": port, **options}
    with core.api() as client:
        answer = client.post("/api/film/printers", json=body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _until(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"never: {what}")


def _path(core: RunningCore, uid: str) -> Any:
    return core.core.archive.locate({"SOPInstanceUID": uid})[0].path


def test_images_preview_print_and_archive(core: RunningCore, printer: tuple) -> None:
    scp, port = printer
    engine, ris = core.core.engine, core.core.ris
    p = patient(core, f"P-COMPOSE-{engine.dialect.name}", "张^小红")
    exam_id = p.exam("ct", status="completed", images=2)
    study = ris.exam(exam_id).study_instance_uid
    auth.create_user(engine, "tech.film", TECH_PASSWORD, "technician", "李技师")
    with core.api("tech.film", TECH_PASSWORD) as client:
        listed = client.get(f"/api/film/compose/studies/{study}").json()
        assert listed["patient_name"] == "张小红"  # never a raw caret
        first, second = listed["images"]
        assert [first["instance_number"], second["instance_number"]] == [1, 2]
        pixels = dcmread(_path(core, first["sop_instance_uid"])).pixel_array
        assert first["window_width"] == float(pixels.max() - pixels.min())  # min-max: no own
        assert "lung" in [preset["name"] for preset in listed["presets"]]  # a CT's presets

        composition = {
            "display_format": "STANDARD\\2,1",
            "film_size": "8INX10IN",
            "orientation": "LANDSCAPE",
            "images": [
                {"position": 1, "sop_instance_uid": first["sop_instance_uid"]},
                {
                    "position": 2,
                    "sop_instance_uid": second["sop_instance_uid"],
                    "window_center": 900,
                    "window_width": 600,
                },
            ],
        }
        shown = client.post(
            "/api/film/compose/preview", json={"composition": composition, "dpi": 20}
        )
        assert shown.headers["content-type"] == "image/png"
        expected = FilmSheet(
            display_format="STANDARD\\2,1",
            film_size="8INX10IN",
            orientation="LANDSCAPE",
            images=[
                ImageBox(1, windowing.windowed(_path(core, first["sop_instance_uid"]))),
                ImageBox(
                    2,
                    windowing.windowed(
                        _path(core, second["sop_instance_uid"]), center=900, width=600
                    ),
                ),
            ],
        )
        preview = np.asarray(Image.open(io.BytesIO(shown.content)))
        assert np.array_equal(preview, np.asarray(compose(expected, 20)))

        imager = _printer(core, port, f"Fuji-{engine.dialect.name}", film_sizes=["8INX10IN"])
        answer = client.post(
            "/api/film/compose/print",
            json={"printer_id": imager["id"], "copies": 2, "composition": composition},
        )
        assert answer.status_code == 201, answer.text
        made = answer.json()
        job, sheet = made["job"], made["sheet"]
        assert (job["kind"], job["copies"], job["requested_by"]) == ("composition", 2, "tech.film")
        assert job["study_instance_uid"] == study and job["sheet_ids"] == [sheet["id"]]
        # The sheet is archived in the exam's study and registered as the viewer's.
        assert (sheet["exam_id"], sheet["study_instance_uid"]) == (exam_id, study)
        row = sheets.sheet(engine, sheet["id"])
        assert (row.source, row.copies, row.display_format) == ("viewer", 2, "STANDARD\\2,1")
        assert core.core.archive.locate({"SOPInstanceUID": sheet["sop_instance_uid"]})
        # Printed as image boxes by the Print SCP; the archived sheet is then marked printed.
        done = _until(
            lambda: client.get(f"/api/film/jobs/{job['id']}").json()["status"] == "printed",
            "the job printed",
        )
        assert done
    assert sheets.sheet(engine, sheet["id"]).printed_copies == 2
    assert scp.film_boxes[-1].ImageDisplayFormat == "STANDARD\\2,1"
    assert scp.film_boxes[-1].FilmOrientation == "LANDSCAPE"


def test_refusals(core: RunningCore, printer: tuple) -> None:
    _, port = printer
    engine, ris = core.core.engine, core.core.ris
    p = patient(core, f"P-COMPOSE-BAD-{engine.dialect.name}")
    study = ris.exam(p.exam("ct", status="completed", images=1)).study_instance_uid
    with core.api() as client:
        uid = client.get(f"/api/film/compose/studies/{study}").json()["images"][0][
            "sop_instance_uid"
        ]
        imager = _printer(core, port, f"Agfa-{engine.dialect.name}")

        def refused(body: dict[str, Any], path: str = "/api/film/compose/print") -> tuple:
            answer = client.post(path, json={"printer_id": imager["id"], **body})
            detail = answer.json()["detail"]
            return answer.status_code, detail["code"] if isinstance(detail, dict) else "schema"

        box: dict[str, Any] = {"position": 1, "sop_instance_uid": uid}
        one: dict[str, Any] = {"display_format": "STANDARD\\1,2", "images": [box]}
        beyond = {**one, "images": [{**box, "position": 3}]}
        twice = {**one, "images": [box, box]}
        unknown = {**one, "images": [{"position": 1, "sop_instance_uid": "1.2.3.999"}]}
        assert refused({"composition": {**one, "images": []}}) == (422, "schema")
        assert refused({"composition": beyond}) == (422, "film.job.box")
        assert refused({"composition": twice}) == (422, "film.compose.box_twice")
        assert refused({"composition": unknown}) == (404, "film.compose.image_unknown")
        assert refused({"composition": {**one, "film_size": "A3"}}) == (
            422,
            "film.compose.size_not_loaded",
        )
        assert refused({"composition": {**one, "display_format": "FANCY\\9"}}) == (
            422,
            "film.display_format",
        )
        assert refused({"composition": one, "printer_id": 999999}) == (
            404,
            "film.printer.not_found",
        )
        assert refused({"composition": beyond}, "/api/film/compose/preview") == (
            422,
            "film.job.box",
        )
        missing = client.get("/api/film/compose/studies/1.2.3.4.5.6")
        assert missing.status_code == 404
        assert missing.json()["detail"]["code"] == "film.compose.study_unknown"
        assert client.get("/api/film/compose/images/1.2.3.999").status_code == 404
    # Nothing was archived for the refused prints.
    assert sheets.sheets_of_exams(engine, [p.exams["ct"]]) == {}
    auth.create_user(engine, "dr.ward", TECH_PASSWORD, "clinician", "王医生")
    with core.api("dr.ward", TECH_PASSWORD) as client:
        assert client.get(f"/api/film/compose/studies/{study}").status_code == 403


def _open_cloud_film(core: RunningCore, exam_id: int) -> None:
    engine = core.core.engine
    url, _ = cloud.issue_link(engine, None, [exam_id], public_url="http://x", by="desk")
    link = cloud.open_link(engine, url.rsplit("/c/", 1)[1])
    assert cloud_check.answer(engine, link, BIRTH.strftime("%Y%m%d"), "127.0.0.9").ok


def test_skip_cloud_film_printer_leaves_opened_exams(core: RunningCore, printer: tuple) -> None:
    _, port = printer
    engine, ris, archive = core.core.engine, core.core.ris, core.core.archive
    p = patient(core, f"P-CLOUD-HOOK-{engine.dialect.name}")
    opened = p.exam("opened", status="completed", images=1)
    not_opened = p.exam("unopened", status="completed", images=1)
    _open_cloud_film(core, opened)
    # A link issued (printed on a disc label) but never answered is not "opened".
    cloud.issue_link(engine, None, [not_opened], public_url="http://x", by="desk")
    assert cloud_film_opened(engine, opened) and not cloud_film_opened(engine, not_opened)

    _printer(core, port, f"Forward-{engine.dialect.name}", auto_forward=True, skip_cloud_film=True)
    film = FilmSheet(images=[ImageBox(1, np.full((8, 8), 128, np.uint8))])
    first = sheets.store_sheet(archive, ris, film, dpi=10, exam_id=opened)
    second = sheets.store_sheet(archive, ris, film, dpi=10, exam_id=not_opened)
    jobs = core.app.state.film_jobs
    jobs.wake()

    def forwarded() -> list[list[int]]:
        found = [j.sheet_ids for j in jobs.recent() if j.requested_by.startswith("forward:")]
        return found if [second.id] in found else []

    # Sheets are forwarded in order: once the second has its job, the first was decided.
    assert [first.id] not in _until(forwarded, "the unopened exam's sheet forwarded")
