"""In headless Chromium: a registrar opens /discs, queues an exam for a kiosk by accession
number, and watches the job move live (WebSocket) as the kiosk claims it and reports its
steps through the API; cancels a burning job (the kiosk then gets 409) and retries it. No
request leaves the appliance and the scripts run under the CSP without errors.

Screenshots are kept in ``test-artifacts/test_browser_discs/<test>/``.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import RunningCore
from tests.core_server.discs.conftest import PASSWORD, desk_on
from tests.e2e.browser import (
    NetworkGuard,
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
    sign_in,
)

pytestmark = pytest.mark.xdist_group("browser")


def test_the_desk_queues_a_disc_and_sees_the_kiosk_burn_it_live(
    core: RunningCore, page: tuple[Page, NetworkGuard], request: pytest.FixtureRequest
) -> None:
    tab, _guard = page
    shots = artifacts_for(request)
    desk = desk_on(core)
    kiosk = desk.kiosk("kiosk-hall")
    exam_id = desk.exam("P900")
    accession = core.core.ris.exam(exam_id).accession_number

    tab.goto(core.base_url + "/login")
    sign_in(tab, "li.registrar", PASSWORD)
    tab.goto(core.base_url + f"/discs?exam={exam_id}")
    tab.wait_for_load_state("networkidle")
    expect(tab.locator("#live")).to_have_text("实时更新")
    expect(tab.locator("#queue-accession")).to_have_value(accession)  # from ?exam=
    tab.select_option("#queue-kiosk", "kiosk-hall")
    tab.select_option("#queue-copies", "2")
    tab.click("#queue-submit")
    row = tab.locator("#jobs tbody tr").first
    expect(row.locator(".state")).to_have_text("排队中")
    expect(row).to_contain_text(accession)
    job_id = int(row.get_attribute("data-job") or 0)

    # The kiosk works through the API; the page hears each step over the WebSocket.
    assert kiosk.post("/api/discs/claim").json()["id"] == job_id
    expect(row.locator(".state")).to_have_text("准备数据")
    path = f"/api/discs/{job_id}/progress"
    kiosk.post(path, json={"state": "burning", "disc": 1, "discs": 2}).raise_for_status()
    expect(row.locator(".state")).to_have_text("刻录中")
    expect(row.locator(".discs")).to_have_text("0/2")
    expect(row.locator(".dj-steps li")).to_have_count(3)
    tab.screenshot(path=str(shots / "burning.png"), full_page=True)

    tab.click("[data-action='discs.action.cancel']")
    expect(row.locator(".state")).to_have_text("已取消")
    assert kiosk.post(path, json={"state": "done"}).status_code == 409
    tab.click("[data-action='discs.action.retry']")
    expect(row.locator(".state")).to_have_text("排队中")
    assert kiosk.post("/api/discs/claim").json()["id"] == job_id
    kiosk.post(path, json={"state": "burning", "disc": 1, "discs": 1}).raise_for_status()
    kiosk.post(path, json={"state": "done", "discs": 1}).raise_for_status()
    expect(row.locator(".state")).to_have_text("已完成")
    expect(row.locator(".discs")).to_have_text("1/1")
    expect(row.locator("button")).to_have_count(0)
    tab.screenshot(path=str(shots / "done.png"), full_page=True)
