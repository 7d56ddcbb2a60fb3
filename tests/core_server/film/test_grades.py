"""Film quality grades through ``/api/film/quality`` on both databases: who may grade, the
reason rules (中/差 need one, unknown codes refused), every grade kept with the newest as the
sheet's grade, the list filtered by grade and day, the sheet's picture, the audit trail."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

from PIL import Image

from core_server import auth, clock
from tests.conftest import RunningCore
from tests.core_server.film.sheet_data import add_sheet

PASSWORD = "Film-quality-2026"


def test_grades_rules_history_list_and_audit(core_on: RunningCore) -> None:
    core = core_on
    engine = core.core.engine
    for name, role in (("chen.qc", "reviewing_doctor"), ("li.tech", "technician")):
        auth.create_user(engine, name, PASSWORD, role, name)
    first = add_sheet(engine, core.core.archive, None, accession="ACC-1")
    second = add_sheet(engine, None, None, accession="ACC-2", printed=True)
    add_sheet(engine, None, None, accession="OLD", created=clock.now() - timedelta(days=3))
    with core.api("chen.qc", PASSWORD) as qc, core.api("li.tech", PASSWORD) as tech:
        path = f"/api/film/quality/sheets/{first}/grades"
        assert tech.post(path, json={"grade": "good"}).status_code == 403
        needs = qc.post(path, json={"grade": "fair", "reasons": []})
        assert (
            needs.status_code == 422
            and needs.json()["detail"]["code"] == "film.grade.reason_needed"
        )
        unknown = qc.post(path, json={"grade": "poor", "reasons": ["layout", "nope"]})
        assert unknown.json()["detail"]["code"] == "film.grade.reason_unknown"
        missing = qc.post("/api/film/quality/sheets/999999/grades", json={"grade": "good"})
        assert (
            missing.status_code == 404
            and missing.json()["detail"]["code"] == "film.sheet_not_found"
        )

        poor = qc.post(path, json={"grade": "poor", "reasons": ["window", "window", "missing"]})
        assert poor.status_code == 201, poor.text
        assert poor.json()["reasons"] == ["window", "missing"]  # each once, in the order picked
        assert poor.json()["graded_by"] == "chen.qc" and poor.json()["role"] == "reviewing_doctor"
        good = qc.post(path, json={"grade": "good", "note": "重打后"})
        assert good.status_code == 201
        history = qc.get(path).json()
        assert [g["grade"] for g in history] == ["good", "poor"]

        listed = qc.get("/api/film/quality/sheets").json()
        assert [s["accession_number"] for s in listed] == ["ACC-2", "ACC-1"]  # today only
        assert {s["id"]: s["grade"] for s in listed} == {first: "good", second: ""}
        assert listed[0]["printed"] is True and listed[1]["printed"] is False
        ungraded = qc.get("/api/film/quality/sheets", params={"grade": "ungraded"}).json()
        assert [s["id"] for s in ungraded] == [second]
        assert qc.get("/api/film/quality/sheets", params={"grade": "poor"}).json() == []
        week = {"start": (clock.today() - timedelta(days=6)).isoformat()}
        assert len(qc.get("/api/film/quality/sheets", params=week).json()) == 3
        too_long = qc.get("/api/film/quality/sheets", params={"start": "2026-01-01"})
        assert too_long.status_code == 422

        jpeg = qc.get(f"/api/film/quality/sheets/{first}/picture.jpg")
        assert jpeg.status_code == 200
        assert Image.open(BytesIO(jpeg.content)).format == "JPEG"
        assert qc.get(f"/api/film/quality/sheets/{second}/picture.jpg").status_code == 404
        assert qc.get("/api/film/quality/reasons").json()[:5] == [
            "layout",
            "window",
            "missing",
            "artifact",
            "annotation",
        ]
        page = qc.get("/film/quality")
        assert page.status_code == 200 and "版式不当" in page.text
    graded = auth.query_audit(engine, action="film.sheet.grade")[1]
    assert len(graded) == 2 and {g.target for g in graded} == {f"film_sheet:{first}"}
    viewed = auth.query_audit(engine, action="film.sheet.view")[1]
    assert [(v.username, v.detail["via"]) for v in viewed] == [("chen.qc", "film.quality")]
