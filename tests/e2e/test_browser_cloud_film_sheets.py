"""In headless Chromium as a phone (390x844, device scale 3): the cloud-film page shows
nothing before the check; after it the exam's film sheets come first, loaded at the 1440 px
size the 3x screen asks for through srcset, then the report; nothing is wider than the screen.
No request leaves the appliance and the page has no console errors.

Screenshots are kept in ``test-artifacts/test_browser_cloud_film_sheets/<test>/``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from core_server.discs import cloud
from tests.conftest import RunningCore
from tests.core_server.discs.test_cloud_data import FINDINGS, patient
from tests.core_server.film.sheet_data import add_sheet
from tests.e2e.browser import (
    NetworkGuard,
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
)

pytestmark = pytest.mark.xdist_group("browser")


@pytest.fixture
def phone(core: RunningCore, browser: Browser) -> Iterator[Page]:  # noqa: F811
    guard = NetworkGuard(core.base_url)
    context = browser.new_context(
        locale="zh-CN",
        viewport={"width": 390, "height": 844},
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
    )
    guard.attach(context)
    tab = context.new_page()
    guard.watch(tab)
    try:
        yield tab
    finally:
        context.close()
    assert guard.outside == [], "requests left the appliance"
    assert guard.console_errors == []


def test_sheets_then_report_only_after_the_check(
    core: RunningCore, phone: Page, request: pytest.FixtureRequest
) -> None:
    shots = artifacts_for(request)
    engine, archive = core.core.engine, core.core.archive
    p = patient(core, "P-SHEETS-1")
    exam_id = p.exam("signed", status="completed", signed=True, images=1)
    study = core.core.ris.exam(exam_id).study_instance_uid
    for _ in range(2):
        add_sheet(engine, archive, exam_id, study_uid=study, patient_id=p.patient_id, dpi=110)
    url, _ = cloud.issue_link(engine, None, [exam_id], public_url=core.base_url)

    phone.goto(url)
    expect(phone.locator("#answer")).to_be_visible()
    expect(phone.locator("body")).not_to_contain_text(FINDINGS)
    assert phone.locator("img").count() == 0

    phone.fill("#answer", "19750309")
    phone.click("#open")
    sheets = phone.locator(".cloud-sheet img")
    expect(sheets).to_have_count(2)
    expect(phone.locator(".cloud-report")).to_contain_text(FINDINGS)
    expect(phone.locator(".cloud-series")).to_have_count(0)
    first = sheets.first
    expect(first).to_be_visible()
    phone.wait_for_function(
        "() => { const i = document.querySelector('.cloud-sheet img');"
        " return i.complete && i.naturalWidth > 0; }"
    )
    assert first.evaluate("i => i.currentSrc").endswith("?w=1440")  # 390 CSS px x 3
    # naturalWidth is density-corrected with srcset: the 1440 px file fills the box sharply.
    assert first.evaluate("i => i.naturalWidth") >= 0.95 * first.evaluate("i => i.clientWidth")
    # The first sheet stands above the report.
    sheet_top = first.evaluate("i => i.getBoundingClientRect().top")
    report_top = phone.locator(".cloud-report").evaluate("e => e.getBoundingClientRect().top")
    assert sheet_top < report_top
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert first.locator("xpath=..").get_attribute("href", timeout=1000).endswith("?w=1440")
    phone.screenshot(path=str(shots / "sheets.png"), full_page=True)
