"""In headless Chromium: an admin opens the system page from the admin menu and sees CPU,
memory, load and the disks now, the last day's samples drawn as line charts, the queues, a
device offline and its alert with hospital times. No request leaves the appliance and the
scripts run under the CSP without errors.

Screenshots are kept in ``test-artifacts/test_browser_monitoring/<test>/``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from core_server import clock
from core_server.monitoring import system
from core_server.queueing import devices
from tests.conftest import ADMIN_PASSWORD, RunningCore
from tests.e2e.browser import (
    NetworkGuard,
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
    sign_in,
)

pytestmark = pytest.mark.xdist_group("browser")


def _seed(core: RunningCore) -> None:
    """Three hours of samples a minute apart, a device never seen, and one round."""
    monitoring = core.app.state.monitoring
    now = clock.now()
    for minute in range(180, 0, -1):
        taken = monitoring.snapshot()
        system.record(core.core.engine, monitoring.node, taken, now - timedelta(minutes=minute))
    devices.create_device(core.core.engine, "printer-1", "printer")
    monitoring.tick()


def test_admin_reads_the_system_page(
    core: RunningCore, page: tuple[Page, NetworkGuard], request: pytest.FixtureRequest
) -> None:
    tab, _guard = page
    shots = artifacts_for(request)
    _seed(core)
    tab.goto(core.base_url + "/login")
    sign_in(tab, "admin", ADMIN_PASSWORD)
    tab.wait_for_load_state("networkidle")
    tab.click("nav.mainnav details[data-menu=admin] > summary")
    tab.click("nav.mainnav details[data-menu=admin] >> text=系统监控")
    tab.wait_for_url("**/admin/system")
    tab.wait_for_load_state("networkidle")
    cards = tab.locator("#now .sys-card")
    expect(cards).to_have_count(5)  # CPU, memory, load, two disks
    expect(cards.nth(1)).to_contain_text("内存")
    expect(cards.nth(3)).to_contain_text("影像存储")
    # 181 samples in ten-minute means: 19 points; four series of percentages, one of load.
    expect(tab.locator("#usage-chart svg path.line")).to_have_count(4)
    expect(tab.locator("#usage-chart svg circle.point")).to_have_count(4 * 91)
    expect(tab.locator("#load-chart svg path.line")).to_have_count(1)
    expect(tab.locator("#usage-chart svg")).to_contain_text("CPU")
    alert = tab.locator("#alerts tbody tr.open")
    expect(alert).to_have_count(1)
    expect(alert).to_contain_text("终端 printer-1 离线")
    (raised,) = core.app.state.monitoring.alerts.listing(clock.now() - timedelta(hours=1))
    expect(alert.locator("td").nth(2)).to_have_text(clock.shown(raised.raised_at))  # +08:00
    expect(alert.locator("td").nth(3)).to_have_text("未解除")
    expect(tab.locator("#queues tbody tr")).to_have_count(3)
    expect(tab.locator("#devices tbody tr .offline")).to_have_text("离线")
    tab.screenshot(path=str(shots / "system.png"), full_page=True)


def test_system_page_and_its_api_are_for_admins(core: RunningCore) -> None:
    from core_server import auth

    auth.create_user(core.core.engine, "reg1", "Registrar-2026!", "registrar")
    with core.api("reg1", "Registrar-2026!") as registrar:
        assert registrar.get("/api/monitoring/system").status_code == 403
    with core.api() as admin:
        data = admin.get("/api/monitoring/system").json()
        assert data["now"]["cpus"] >= 1
        queues = [q["name"] for q in data["queues"]]
        assert queues == ["hl7_outbound", "report_output", "forwarding"]
