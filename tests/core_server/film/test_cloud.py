"""Cloud film with the film sheets, on both databases: nothing before the check; after it the
exam's sheets come first (before the report, instead of the series previews) as progressive
JPEGs 720 or 1440 px wide, made once and then read from the cache; another patient's sheet is
not reachable; every sheet view is audited; a revoked link shows nothing any more. An exam
without sheets keeps its per-series previews."""

from __future__ import annotations

from io import BytesIO

import httpx
from PIL import Image

from core_server import auth
from core_server.discs import cloud
from tests.conftest import RunningCore
from tests.core_server.discs.test_cloud_data import FINDINGS, patient
from tests.core_server.film.sheet_data import add_sheet


def _opened(core: RunningCore, browser: httpx.Client, exam_ids: list[int]) -> tuple[str, int]:
    url, _ = cloud.issue_link(core.core.engine, None, exam_ids, public_url=core.base_url)
    assert browser.post(url, data={"answer": "19750309"}).status_code == 303
    token = url.rsplit("/", 1)[1]
    return url, int(token.split(".")[0])


def _jpeg(answer: httpx.Response) -> Image.Image:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/jpeg"
    assert "no-store" in answer.headers["cache-control"]
    return Image.open(BytesIO(answer.content))


def test_sheets_first_sized_cached_audited_and_revocable(core_on: RunningCore) -> None:
    core = core_on
    engine, archive = core.core.engine, core.core.archive
    p = patient(core, "P-FILM-1")
    exam_id = p.exam("signed", status="completed", signed=True, images=1)
    study = core.core.ris.exam(exam_id).study_instance_uid
    # 14x17 in at 110 dpi: 1540 px wide, more than the largest phone size.
    first = add_sheet(engine, archive, exam_id, study_uid=study, patient_id=p.patient_id, dpi=110)
    # Not yet matched to an exam, but in the exam's study: shown too.
    second = add_sheet(engine, archive, None, study_uid=study, patient_id=p.patient_id)
    other = patient(core, "P-FILM-2")
    foreign = add_sheet(engine, archive, other.exam("x", status="completed", signed=True, images=1))
    url, _ = cloud.issue_link(engine, None, [exam_id], public_url=core.base_url)
    sheet_url = f"{url}/sheets/{first}.jpg"
    with httpx.Client() as stranger:
        assert "sheets/" not in stranger.get(url).text
        assert stranger.get(sheet_url).status_code == 404

    with httpx.Client() as browser:
        url, link_id = _opened(core, browser, [exam_id])
        sheet_url = f"{url}/sheets/{first}.jpg"
        page = browser.get(url).text
        assert page.index('class="cloud-sheet"') < page.index('class="cloud-report"')
        assert FINDINGS in page and 'class="cloud-series"' not in page
        assert f"/sheets/{first}.jpg?w=720 720w" in page and f"{first}.jpg?w=1440 1440w" in page
        assert f"/sheets/{second}.jpg" in page and f"/sheets/{foreign}.jpg" not in page

        small = _jpeg(browser.get(sheet_url, params={"w": 720}))
        assert small.width == 720 and small.info.get("progressive") == 1
        assert small.mode == "L"  # a grayscale sheet stays one channel (smaller)
        large = browser.get(sheet_url, params={"w": 1440})
        assert _jpeg(large).width == 1440
        # Any other width is snapped to the next step (never a new file per size asked).
        assert _jpeg(browser.get(sheet_url, params={"w": 5000})).width == 1440
        assert _jpeg(browser.get(sheet_url, params={"w": 300})).width == 720
        cache = core.settings.data_dir / "cache" / "film-sheets"
        files = sorted(f.name.rsplit(".", 2)[1] for f in cache.iterdir())
        assert files == ["1440", "720"]
        assert browser.get(sheet_url, params={"w": 1440}).content == large.content
        # A sheet smaller than the width asked is sent as it is, never enlarged.
        assert _jpeg(browser.get(f"{url}/sheets/{second}.jpg?w=1440")).width == 280
        assert browser.get(f"{url}/sheets/{foreign}.jpg").status_code == 404

        views = auth.query_audit(engine, action="film.sheet.view")[1]
        assert len(views) == 6
        assert {v.target for v in views} == {f"film_sheet:{first}", f"film_sheet:{second}"}
        assert all(v.detail["via"] == f"cloud_link:{link_id}" for v in views)
        assert {v.detail["width"] for v in views} == {720, 1440}

        cloud.revoke(engine, link_id, by="admin")
        assert browser.get(url).status_code == 410
        assert browser.get(sheet_url).status_code == 404


def test_exam_without_sheets_keeps_its_series_previews(core_on: RunningCore) -> None:
    p = patient(core_on, "P-FILM-3")
    exam_id = p.exam("signed", status="completed", signed=True, images=1)
    with httpx.Client() as browser:
        url, _ = _opened(core_on, browser, [exam_id])
        page = browser.get(url).text
        assert 'class="cloud-series"' in page and 'class="cloud-sheet"' not in page
        preview = browser.get(f"{url}/series/{p.series['signed']}.jpg")
        assert preview.status_code == 200
