"""In headless Chromium: a technician opens /film/sheets, sees the film a modality printed that
matched no exam (its picture, calling AE and time), finds the exam by accession number and
links the film to it; the sheet leaves the list and counts for the exam. No request leaves the
appliance, no console error (the ``page`` fixture's guard)."""

from __future__ import annotations

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from core_server import auth
from core_server.film import sheets
from core_server.film.sheet import FilmSheet, ImageBox
from core_server.film.sheets import Hints
from tests.conftest import RunningCore
from tests.core_server.discs.test_cloud_data import patient
from tests.e2e.browser import (
    NetworkGuard,
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
    sign_in,
)

pytestmark = pytest.mark.xdist_group("browser")
TECH_PASSWORD = "Film-tech-2026"


def test_technician_links_a_film_without_exam(
    core: RunningCore, page: tuple[Page, NetworkGuard], request: pytest.FixtureRequest
) -> None:
    tab, _guard = page
    engine, archive, ris = core.core.engine, core.core.archive, core.core.ris
    auth.create_user(engine, "tech", TECH_PASSWORD, "technician", display_name="技师")
    p = patient(core, "P-ORPHAN", "王^建国")
    exam_id = p.exam("ct", status="completed", images=1)
    accession = p.accessions["ct"]
    gradient = np.tile(np.arange(64, dtype=np.uint8) * 4, (48, 1))
    film = FilmSheet("STANDARD\\2,1", "8INX10IN", images=[ImageBox(1, gradient)])
    orphan = sheets.store_sheet(archive, ris, film, dpi=30, hints=Hints(calling_ae="CT_ORPHAN"))
    assert orphan.exam_id is None

    tab.goto(core.base_url + "/login")
    sign_in(tab, "tech", TECH_PASSWORD)
    tab.goto(core.base_url + "/film/sheets")
    items = tab.locator("#sheets li")
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("CT_ORPHAN")
    expect(items.first).to_contain_text("STANDARD\\2,1")
    tab.wait_for_function(
        "() => { const i = document.querySelector('#sheets img');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    items.first.locator("input[name=accession]").fill("NO-SUCH-ACC")
    items.first.locator(".fs-find-button").click()
    expect(items.first.locator(".fs-error")).to_contain_text("NO-SUCH-ACC")
    items.first.locator("input[name=accession]").fill(accession)
    items.first.locator(".fs-find-button").click()
    shown = items.first.locator(".fs-exam-text")
    expect(shown).to_contain_text(accession)
    expect(shown).to_contain_text("王建国")  # the name as a person reads it
    assert "^" not in shown.inner_text()
    tab.screenshot(path=str(artifacts_for(request) / "found.png"), full_page=True)
    items.first.locator(".fs-link").click()
    expect(items).to_have_count(0)
    expect(tab.locator("#status")).to_contain_text(accession)
    assert [s.id for s in sheets.sheets_of_exams(engine, [exam_id])[exam_id]] == [orphan.id]
    assert sheets.unmatched_sheets(engine) == []
