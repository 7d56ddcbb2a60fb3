"""In headless Chromium: a QC doctor opens /film/quality, sees today's film sheet with its
picture, grades it 差 with a reason and sees the grade in the list and the history. No
request leaves the appliance, no console error (the ``page`` fixture's guard)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from core_server import auth
from tests.conftest import RunningCore
from tests.core_server.film.sheet_data import add_sheet
from tests.e2e.browser import (
    NetworkGuard,
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
    sign_in,
)

pytestmark = pytest.mark.xdist_group("browser")
QC_PASSWORD = "Film-quality-2026"


def test_qc_doctor_grades_a_film_sheet(
    core: RunningCore, page: tuple[Page, NetworkGuard], request: pytest.FixtureRequest
) -> None:
    tab, _guard = page
    engine = core.core.engine
    auth.create_user(engine, "qc", QC_PASSWORD, "reviewing_doctor", display_name="质控")
    sheet = add_sheet(engine, core.core.archive, None, accession="ACC-F1")
    tab.goto(core.base_url + "/login")
    sign_in(tab, "qc", QC_PASSWORD)
    tab.goto(core.base_url + "/film/quality")
    items = tab.locator("#sheets li")
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("ACC-F1")
    expect(items.first).to_contain_text("未评级")
    tab.wait_for_function(
        "() => { const i = document.querySelector('#sheets img');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    items.first.click()
    expect(tab.locator("#save")).to_be_enabled()  # the sheet's grades are shown
    tab.check("#grades input[value=poor]")
    tab.check("#reasons input[value=window]")
    tab.click("#save")
    expect(tab.locator("#status")).to_have_text("已保存")
    expect(items.first).to_contain_text("差 · 窗宽窗位不当")
    expect(tab.locator("#history li")).to_have_count(1)
    tab.screenshot(path=str(artifacts_for(request) / "graded.png"), full_page=True)
    with core.api("qc", QC_PASSWORD) as qc:
        given = qc.get(f"/api/film/quality/sheets/{sheet}/grades").json()
    assert [(g["grade"], g["reasons"]) for g in given] == [("poor", ["window"])]
