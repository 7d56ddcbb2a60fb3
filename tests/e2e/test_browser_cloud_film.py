"""In headless Chromium, as a phone: the disc label's QR code (rendered to PNG with ``qrcode``,
read back with zbar's ``zbarimg``) leads to the cloud-film page, which shows nothing but the
check question; a wrong answer shows nothing more; the right birth date shows the patient, the
report and the series previews (each image loaded). No request leaves the appliance and the
page runs under the CSP without console errors.

Screenshots are kept in ``test-artifacts/test_browser_cloud_film/<test>/``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import qrcode
from playwright.sync_api import Browser, Page, expect

from core_server.discs import cloud
from tests.conftest import RunningCore
from tests.core_server.discs.test_cloud_data import FINDINGS, IMPRESSION, standard
from tests.e2e.browser import (
    NetworkGuard,
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
)

pytestmark = [
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(shutil.which("zbarimg") is None, reason="zbar-tools not installed"),
]


@pytest.fixture
def phone(core: RunningCore, browser: Browser) -> Iterator[tuple[Page, NetworkGuard]]:  # noqa: F811
    guard = NetworkGuard(core.base_url)
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    guard.attach(context)
    tab = context.new_page()
    guard.watch(tab)
    try:
        yield tab, guard
    finally:
        context.close()
    assert guard.outside == [], "requests left the appliance"
    # The one error allowed: Chromium logs a page answered 410 (a link withdrawn or expired).
    assert [e for e in guard.console_errors if "status of 410" not in e] == []


def _decoded(url: str, folder: Path) -> str:
    png = folder / "label-qr.png"
    qrcode.make(url, border=2).save(png)
    read = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(png)], capture_output=True, text=True, check=True
    )
    return read.stdout.strip()


def test_qr_leads_to_the_report_only_after_the_check(
    core: RunningCore, phone: tuple[Page, NetworkGuard], request: pytest.FixtureRequest
) -> None:
    tab, _guard = phone
    shots = artifacts_for(request)
    p = standard(core, "P-QR-1")
    url, _ = cloud.issue_link(
        core.core.engine, None, [p.exams["signed"]], **cloud.link_options(core.settings)
    )
    scanned = _decoded(url, shots)
    assert scanned == url and scanned.startswith(core.base_url + "/c/")

    tab.goto(scanned)
    tab.wait_for_load_state("networkidle")
    expect(tab.locator("#answer")).to_be_visible()
    body = tab.locator("body")
    for hidden in ("王建国", p.patient_id, FINDINGS, IMPRESSION):
        expect(body).not_to_contain_text(hidden)
    assert tab.locator("img").count() == 0
    tab.screenshot(path=str(shots / "check.png"), full_page=True)

    tab.fill("#answer", "19750310")
    tab.click("#open")
    tab.wait_for_load_state("networkidle")
    expect(tab.locator("#error")).to_be_visible()
    expect(body).not_to_contain_text("王建国")
    expect(body).not_to_contain_text(FINDINGS)

    tab.fill("#answer", "19750309")
    tab.click("#open")
    tab.wait_for_load_state("networkidle")
    expect(tab.locator("#patient")).to_have_text("王建国")
    expect(tab.locator(".cloud-report")).to_contain_text(FINDINGS)
    expect(tab.locator(".cloud-report")).to_contain_text(IMPRESSION)
    expect(body).not_to_contain_text("^")
    images = tab.locator(".cloud-series img")
    expect(images).to_have_count(1)  # one series
    images.first.scroll_into_view_if_needed()
    tab.wait_for_function(
        "() => [...document.querySelectorAll('.cloud-series img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    # Readable on a phone: nothing wider than the screen.
    assert tab.evaluate("() => document.documentElement.scrollWidth") <= 390
    pdf = tab.locator("a.report-pdf").get_attribute("href")
    assert pdf is not None
    answer = tab.request.get(core.base_url + pdf)
    assert answer.status == 200 and answer.body().startswith(b"%PDF")
    tab.screenshot(path=str(shots / "film.png"), full_page=True)


def test_revoked_link_shows_a_clear_page(
    core: RunningCore, phone: tuple[Page, NetworkGuard], request: pytest.FixtureRequest
) -> None:
    tab, _guard = phone
    p = standard(core, "P-QR-2")
    url, _ = cloud.issue_link(core.core.engine, None, [p.exams["signed"]], public_url=core.base_url)
    link_id = int(url.rsplit("/", 1)[1].split(".")[0])
    cloud.revoke(core.core.engine, link_id, by="admin")
    answer = tab.goto(url)
    assert answer is not None and answer.status == 410
    tab.wait_for_load_state("networkidle")
    expect(tab.locator("#closed")).to_contain_text("撤销")
    expect(tab.locator("#answer")).to_have_count(0)
    expect(tab.locator("body")).not_to_contain_text("王建国")
    tab.screenshot(path=str(artifacts_for(request) / "revoked.png"), full_page=True)
