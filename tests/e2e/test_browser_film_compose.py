"""In headless Chromium: an administrator adds a laser imager with the printer form on
/film/printers (a pynetdicom Print SCP of the tests) and edits it, then a technician opens the film
composer for a study of two images, chooses 2x1, puts one image in by clicking a box and then
the image and the other by dragging it, changes the second's window, looks at the server's
preview and prints; the printers page shows the job printed and the Print SCP got a 2x1 film.
No request leaves the appliance and the scripts run under the CSP without errors.

Screenshots are kept in ``test-artifacts/test_browser_film_compose/<test>/``.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from core_server import auth, clock
from tests.conftest import RunningCore
from tests.core_server.discs.test_cloud_data import patient
from tests.core_server.film.print_peers import OwnPrinter, own_printer
from tests.e2e.browser import (
    NetworkGuard,
    artifacts_for,
    assert_image_drawn,
    browser,  # noqa: F401  (the module's Chromium)
    open_page,
    sign_in,
)

pytestmark = pytest.mark.xdist_group("browser")
TECH_PASSWORD = "Technician-2026"


def _add_printer_with_the_form(tab: Page, port: int) -> None:
    tab.click("#add-printer")
    form = tab.locator("#printer-form")
    expect(form).to_be_visible()
    form.locator("[name=name]").fill("一号激光相机")
    form.locator("[name=ae_title]").fill("OWNPRINTER")
    form.locator("[name=host]").fill("127.0.0.1")
    form.locator("[name=port]").fill(str(port))
    form.locator("input[name=film_sizes][value='8INX10IN']").check()
    form.locator("[name=modalities]").fill("CT, MR")
    form.locator("button[type=submit]").click()
    expect(form).to_be_hidden()
    expect(tab.locator("#printers tbody tr")).to_contain_text("一号激光相机")
    expect(tab.locator("#printers tbody tr")).to_contain_text(f"OWNPRINTER@127.0.0.1:{port}")
    # Edited with the same form: it comes filled with the printer.
    tab.click("#printers [data-action='film.printer.edit']")
    expect(form.locator("[name=modalities]")).to_have_value("CT, MR")
    expect(form.locator("input[name=film_sizes][value='8INX10IN']")).to_be_checked()
    form.locator("[name=modalities]").fill("CT")
    form.locator("button[type=submit]").click()
    expect(form).to_be_hidden()
    expect(tab.locator("#printers tbody tr")).to_have_count(1)
    expect(tab.locator("#printers tbody tr td").nth(2)).to_have_text("CT")


def test_compose_two_images_preview_and_print(
    core: RunningCore,
    page: tuple[Page, NetworkGuard],
    browser: Browser,  # noqa: F811
    request: pytest.FixtureRequest,
) -> None:
    tab, _guard = page
    shots = artifacts_for(request)
    ris = core.core.ris
    p = patient(core, "P-FILM-COMPOSE", "赵^一鸣")
    exam_id = p.exam("ct", status="completed", images=2)
    study = ris.exam(exam_id).study_instance_uid
    auth.create_user(core.core.engine, "wu.tech", TECH_PASSWORD, "technician", "吴技师")
    scp = OwnPrinter()
    with own_printer(scp) as port:
        tab.goto(core.base_url + "/login?next=/film/printers")
        sign_in(tab, "admin", core.settings.admin_password or "")
        tab.goto(core.base_url + "/film/printers")
        _add_printer_with_the_form(tab, port)
        tab.screenshot(path=str(shots / "printer-added.png"), full_page=True)

        # Opened from the exam on the technician's worklist (its 胶片 link).
        exam = ris.exam(exam_id)
        day = clock.local(exam.scheduled_at).date().isoformat()
        worklist = f"/ris/technician?room={exam.room}&day={day}"
        composer, guard = open_page(browser, core.base_url, worklist, "wu.tech", TECH_PASSWORD)
        link = composer.locator(f"tr.exam[data-accession='{exam.accession_number}'] a.film-compose")
        expect(link).to_have_text("胶片")
        link.click()
        expect(composer).to_have_url(core.base_url + f"/film/compose?study={study}&exam={exam_id}")
        thumbs = composer.locator("#thumbnails li")
        expect(thumbs).to_have_count(2)
        expect(composer.locator("#patient")).to_contain_text("赵一鸣")
        composer.select_option("#layout", "2,1")
        expect(composer.locator("#sheet .fc-box")).to_have_count(2)
        composer.click(".fc-box[data-position='1']")
        thumbs.nth(0).click()
        first_uid = thumbs.nth(0).get_attribute("data-sop")
        expect(composer.locator(".fc-box[data-position='1']")).to_have_attribute(
            "data-sop", first_uid or ""
        )
        thumbs.nth(1).drag_to(composer.locator(".fc-box[data-position='2']"))
        second = composer.locator(".fc-box[data-position='2']")
        expect(second).to_have_attribute("data-sop", thumbs.nth(1).get_attribute("data-sop") or "")
        second.click()
        composer.fill("#width", "300")
        composer.locator("#width").dispatch_event("change")
        expect(composer.locator("#width")).to_have_value("300")
        assert_image_drawn(composer.locator(".fc-box[data-position='2'] img"))

        composer.click("#preview-button")
        expect(composer.locator("#preview")).to_be_visible()
        assert_image_drawn(composer.locator("#preview"))
        composer.fill("#copies", "2")
        composer.click("#print-button")
        sent = composer.locator("#sent")
        expect(sent).to_be_visible()
        job_id = sent.get_attribute("data-job")
        composer.screenshot(path=str(shots / "composed.png"), full_page=True)
        guard.assert_clean()

        composer.click("#sent a")
        row = composer.locator(f"#jobs tr[data-job='{job_id}']")
        expect(row).to_have_attribute("data-state", "printed", timeout=30000)
        expect(row.locator(".state")).to_have_text("已打印")
        composer.screenshot(path=str(shots / "printed.png"), full_page=True)
        guard.assert_clean()
        assert guard.console_errors == []
        composer.context.close()
    assert scp.printed == 1
    assert scp.film_boxes[-1].ImageDisplayFormat == "STANDARD\\2,1"
    assert int(scp.sessions[-1].NumberOfCopies) == 2
