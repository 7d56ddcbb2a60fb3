"""In headless Chromium: a department head opens the overdue exams (an emergency not
reported within its 30 min), sees its row and the chart, and the list refreshes itself (it
polls); the administrator changes a target on the targets page and it is kept. No request
leaves the appliance and the scripts run under the CSP without errors.

Screenshots are kept in ``test-artifacts/test_browser_overdue/<test>/``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from core_server import auth, clock
from core_server.ris import OrderIn, PatientIn, ProcedureRequest
from tests.conftest import ADMIN_PASSWORD, RunningCore
from tests.e2e.browser import (
    NetworkGuard,
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
    sign_in,
)

pytestmark = pytest.mark.xdist_group("browser")
HEAD_PASSWORD = "Head-of-dept-2026"


def _done(core: RunningCore, n: int, *, emergency: bool) -> str:
    ris = core.core.ris
    ris.register_patient(PatientIn(f"P{n}", "王^建国"), username="reg")
    order = OrderIn(f"O{n}", (ProcedureRequest("CT-CHEST"),), emergency=emergency)
    exam = ris.place_order(f"P{n}", "", order, username="his").exams[0]
    for step in ("arrived", "in_progress", "completed"):
        ris.change_status(exam.id, step, username="tech1")
    return exam.accession_number


def test_the_overdue_list_shows_and_refreshes(
    core: RunningCore,
    page: tuple[Page, NetworkGuard],
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tab, _guard = page
    shots = artifacts_for(request)
    real = clock.now
    monkeypatch.setattr(clock, "now", lambda: real() - timedelta(minutes=50))
    late = _done(core, 1, emergency=True)  # 20 min over its 30
    _done(core, 2, emergency=False)  # routine: 24 h to go
    monkeypatch.setattr(clock, "now", real)
    auth.create_user(core.core.engine, "head", HEAD_PASSWORD, "department_head")
    tab.clock.install()  # the page's own timers, so the 30 s poll can be stepped over
    tab.goto(core.base_url + "/login")
    sign_in(tab, "head", HEAD_PASSWORD)
    tab.goto(core.base_url + "/statistics/overdue")
    tab.wait_for_load_state("networkidle")
    rows = tab.locator("#overdue tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(late)
    expect(rows.first).to_contain_text("王建国")
    expect(rows.first).to_contain_text("急诊")
    expect(rows.first).to_contain_text("检查完成→初步报告")
    expect(rows.first).not_to_contain_text("^")
    expect(tab.locator("#chart svg rect.bar")).to_have_count(1)
    expect(tab.locator("#status")).to_contain_text("1 项超时")
    tab.screenshot(path=str(shots / "overdue.png"), full_page=True)

    # Another emergency falls behind; the next poll (30 s on) shows it without a reload.
    monkeypatch.setattr(clock, "now", lambda: real() - timedelta(minutes=40))
    second = _done(core, 3, emergency=True)
    monkeypatch.setattr(clock, "now", real)
    with tab.expect_response("**/api/statistics/overdue"):
        tab.clock.run_for(31_000)
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text(second)  # 10 min over, after the 20 min one


def test_the_admin_changes_a_target(
    core: RunningCore, page: tuple[Page, NetworkGuard], request: pytest.FixtureRequest
) -> None:
    tab, _guard = page
    shots = artifacts_for(request)
    tab.goto(core.base_url + "/login")
    sign_in(tab, "admin", ADMIN_PASSWORD)
    tab.goto(core.base_url + "/statistics/targets")
    tab.wait_for_load_state("networkidle")
    targets = tab.locator("#targets tbody tr")
    expect(targets).to_have_count(3)
    emergency = targets.filter(has=tab.locator("option[value=emergency]:checked"))
    emergency.locator("input[name=minutes]").fill("20")
    tab.click("#add-hours")
    tab.locator("#hours tbody tr input[name=department]").fill("US")
    tab.locator("#hours tbody tr input[name=rule]").fill("1-5 08:00-12:00,13:30-17:30")
    tab.click("#save")
    expect(tab.locator("#status")).to_have_text("已保存")
    tab.screenshot(path=str(shots / "targets.png"), full_page=True)
    with core.api() as admin:
        shown = admin.get("/api/statistics/targets").json()
    assert {"department": "", "priority": "emergency", "step": "report", "minutes": 20,
            "working_hours": False} in shown["targets"]  # fmt: skip
    assert shown["working_hours"] == [{"department": "US", "rule": "1-5 08:00-12:00,13:30-17:30"}]
