"""In headless Chromium: the front desk finds a signed report by its accession number, prints
it (the print's PDF opens in a new window), and a second print is refused as a reprint
without permission; a clinician reads the same page without the print form."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from core_server import auth
from tests.conftest import RunningCore
from tests.core_server.reporting.output_data import PASSWORD, signed_report
from tests.e2e.browser import (
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
    open_page,
)

pytestmark = pytest.mark.xdist_group("browser")


def test_front_desk_prints_once_and_a_reprint_is_refused(
    browser: Browser,  # noqa: F811
    core: RunningCore,
    request: pytest.FixtureRequest,
) -> None:
    artifacts: Path = artifacts_for(request)
    signed = signed_report(core, "P-WEB-1", name="吴十")
    path = f"/reports/view?AccessionNumber={signed.exam.accession_number}"

    page, guard = open_page(browser, core.base_url, path, "wang.registrar", PASSWORD)
    expect(page.locator("article.report-view")).to_contain_text("吴十")
    # The print's PDF is loaded in the window the click opened.
    with page.context.expect_event(
        "response",
        predicate=lambda r: r.url.startswith(core.base_url + "/api/reporting/prints/"),
        timeout=60_000,
    ) as loaded:
        page.click("form.print-form button[type=submit]")
    answer = loaded.value
    assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
    assert len(page.context.pages) == 2  # in a window of its own
    status = page.locator("form.print-form .print-status")
    expect(status).to_contain_text("已发送打印", timeout=30_000)
    log = core.core.report_output.print_log(signed.report.id)
    assert [(p.username, p.reprint) for p in log] == [("wang.registrar", False)]

    page.fill("form.print-form input[name=reason]", "患者遗失")
    page.click("form.print-form button[type=submit]")
    expect(status).to_contain_text("补打需授权", timeout=30_000)
    page.screenshot(path=str(artifacts / "report-view-refused.png"), full_page=True)
    assert len(core.core.report_output.print_log(signed.report.id)) == 1
    # Chromium's own PDF viewer (chrome-extension://, chrome://) showed the print; nothing
    # else left the appliance, and the page's script kept to its CSP.
    internal = ("chrome://", "chrome-extension://")
    assert any(u.startswith("chrome-extension://") for u in guard.outside)
    assert [u for u in guard.outside if not u.startswith(internal)] == []
    assert guard.csp_violations() == []

    reader, reader_guard = open_page(browser, core.base_url, path, "liu.clinician", PASSWORD)
    expect(reader.locator("article.report-view")).to_contain_text("右肺上叶结节")
    assert reader.locator("form.print-form").count() == 0
    reader_guard.assert_clean()


def test_administrator_grants_and_revokes_reprinting(
    browser: Browser,  # noqa: F811
    core: RunningCore,
    request: pytest.FixtureRequest,
) -> None:
    artifacts: Path = artifacts_for(request)
    auth.create_user(core.core.engine, "lead", PASSWORD, "registrar", "前台组长")
    auth.create_user(core.core.engine, "it", PASSWORD, "admin")
    page, guard = open_page(browser, core.base_url, "/admin/report-output", "it", PASSWORD)
    expect(page.locator("#archive-jobs tbody")).to_contain_text("所有报告均已归档")
    page.fill("#grant-username", "lead")
    page.fill("#grant-note", "前台组长补打")
    page.click("#grant-form button[type=submit]")
    row = page.locator("#grants tbody tr.grant")
    expect(row).to_contain_text("前台组长补打")
    assert [g.username for g in core.core.report_output.reprint_grants()] == ["lead"]
    page.screenshot(path=str(artifacts / "report-output-admin.png"), full_page=True)
    row.locator("button").click()
    expect(page.locator("#grants tbody")).to_contain_text("无")
    assert core.core.report_output.reprint_grants() == []
    guard.assert_clean()
