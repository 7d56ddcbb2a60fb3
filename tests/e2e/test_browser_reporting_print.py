"""In headless Chromium, the print button of the report editor: a signed report is printed
(logged, its PDF opened in a window of its own); printing it again without the reprint
permission says an administrator's permission is needed; with the permission granted, the
reprint asks for a reason and is logged with it. Nothing may leave the appliance but
Chromium's own PDF viewer."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from core_server import auth
from tests.conftest import RunningCore
from tests.core_server.reporting.conftest import CHIEF
from tests.core_server.reporting.output_data import PASSWORD, signed_report
from tests.e2e.browser import (
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
    open_page,
)

pytestmark = pytest.mark.xdist_group("browser")


def _print(page: Page, core: RunningCore) -> None:
    """Click the print button; the logged print's PDF loads in the window the click opened."""
    with page.context.expect_event(
        "response",
        predicate=lambda r: r.url.startswith(core.base_url + "/api/reporting/prints/"),
        timeout=60_000,
    ) as loaded:
        page.click("#print-report")
    answer = loaded.value
    assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"


def test_print_refused_reprint_then_reprint_with_a_reason(
    browser: Browser,  # noqa: F811
    core: RunningCore,
    request: pytest.FixtureRequest,
) -> None:
    artifacts: Path = artifacts_for(request)
    signed = signed_report(core, "P-PRT-1", name="郑十一")
    output = core.core.report_output
    page, guard = open_page(browser, core.base_url, "/reporting", CHIEF.username, PASSWORD)
    page.goto(f"{core.base_url}/reporting?exam={signed.exam.id}")
    expect(page.locator("#patient-name")).to_have_text("郑十一")
    status = page.locator("#print-status")

    _print(page, core)
    expect(status).to_have_text("已发送打印", timeout=30_000)
    assert len(page.context.pages) == 2  # the PDF in a window of its own
    assert [(p.username, p.reprint) for p in output.print_log(signed.report.id)] == [
        (CHIEF.username, False)
    ]

    # Again: a reprint, which this doctor may not do yet.
    page.click("#print-report")
    expect(status).to_have_text("此报告已打印过，补打需管理员授权", timeout=30_000)
    expect(status).to_have_class("rp-print-status error")
    assert len(output.print_log(signed.report.id)) == 1
    page.screenshot(path=str(artifacts / "reprint-refused.png"), full_page=True)

    # Granted by an administrator: the reprint asks for the reason, and keeps it.
    auth.create_user(core.core.engine, "it", PASSWORD, "admin")
    with core.api("it", PASSWORD) as admin:
        granted = admin.put(
            f"/api/reporting/reprint-grants/{CHIEF.username}", json={"note": "病案室"}
        )
        assert granted.status_code == 200, granted.text
    page.click("#print-report")
    expect(page.locator("#reason-dialog")).to_be_visible()
    expect(page.locator("#reason-title")).to_have_text("此报告已打印过，补打请填写原因")
    page.fill("#reason-text", "患者遗失报告")
    with page.context.expect_event(
        "response",
        predicate=lambda r: r.url.startswith(core.base_url + "/api/reporting/prints/"),
        timeout=60_000,
    ):
        page.click("#reason-ok")
    expect(status).to_have_text("已补打", timeout=30_000)
    log = output.print_log(signed.report.id)
    assert [(p.reprint, p.reason) for p in log][-1] == (True, "患者遗失报告")
    assert len(log) == 2
    page.screenshot(path=str(artifacts / "reprinted.png"), full_page=True)
    internal = ("chrome://", "chrome-extension://")
    assert [u for u in guard.outside if not u.startswith(internal)] == []
    assert guard.csp_violations() == []
