"""In headless Chromium: an admin opens the updates page from the admin menu, reads the roles'
versions (newest first), their sizes, publication times in hospital time and the signature,
and removes a version. No request leaves the appliance; the scripts run under the CSP.

Screenshot: ``test-artifacts/test_page/<test>/updates.png``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from core_server import clock, updates
from tests.conftest import ADMIN_PASSWORD, RunningCore
from tests.core_server.updates.helpers import update_folder
from tests.e2e.browser import (
    NetworkGuard,
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
    open_page,
)

pytestmark = pytest.mark.xdist_group("browser")


@pytest.fixture
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCore]:
    folder = tmp_path_factory.mktemp("page")
    running = RunningCore(folder / "data").start()
    store = updates.store_of(running.settings)
    updates.init_key(store.key, "")
    store.publish("display", update_folder(folder / "d", "display", "20261208.9", "20261208.10"))
    store.publish("caller", update_folder(folder / "c", "caller", "20261208.3", size=2 << 20))
    try:
        yield running
    finally:
        running.stop()


def test_admin_reads_and_removes_updates(
    core: RunningCore,
    browser: Browser,  # noqa: F811
    request: pytest.FixtureRequest,
) -> None:
    shots = artifacts_for(request)
    tab: Page
    guard: NetworkGuard
    tab, guard = open_page(browser, core.base_url, "/login", "admin", ADMIN_PASSWORD)
    tab.click("nav.mainnav details[data-menu=admin] > summary")
    tab.click("nav.mainnav details[data-menu=admin] >> text=系统更新")
    tab.wait_for_url("**/admin/updates")
    rows = tab.locator("#versions tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0).locator("td").nth(0)).to_have_text("叫号终端 · caller")
    expect(rows.nth(0).locator("td").nth(2)).to_have_text("2.2 MiB")  # 2 MiB root + its UKI
    expect(rows.nth(1).locator("td").nth(1)).to_have_text("20261208.10")  # newest first
    expect(rows.nth(2).locator("td").nth(1)).to_have_text("20261208.9")
    expect(tab.locator("#versions td.signature.good")).to_have_count(3)
    expect(rows.nth(1).locator("td.signature")).to_have_text("签名有效")
    fingerprint = updates.store_of(core.settings).key.fingerprint()
    expect(tab.locator("#key")).to_contain_text(str(fingerprint))
    published = updates.store_of(core.settings).roles()[1].versions[0].published_at
    expect(rows.nth(1).locator("td").nth(3)).to_contain_text(clock.shown(published, "%H:%M"))
    tab.screenshot(path=str(shots / "updates.png"), full_page=True)

    tab.once("dialog", lambda dialog: dialog.accept())
    rows.nth(2).locator("button").click()
    expect(rows).to_have_count(2)
    expect(tab.locator("#versions")).not_to_contain_text("20261208.9")
    assert "imaging-display_20261208.9.efi" not in updates.store_of(core.settings).sums("display")
    guard.assert_clean()
    assert guard.console_errors == []
    tab.context.close()
