"""In headless Chromium: a department head lands on the statistics, opens a figure, sees its
chart and table, narrows it, downloads its Excel file (the same numbers as the page), and a
click on a row lists the exams behind it with names as a person reads them. No request leaves
the appliance and the scripts run under the CSP without errors.

Screenshots are kept in ``test-artifacts/test_browser_statistics/<test>/``.
"""

from __future__ import annotations

from datetime import datetime
from io import BytesIO

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from core_server import auth, clock
from core_server.ris import OrderIn, PatientIn, ProcedureRequest, VisitIn
from tests.conftest import RunningCore
from tests.e2e.browser import (
    NetworkGuard,
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
    sign_in,
)

pytestmark = pytest.mark.xdist_group("browser")
HEAD_PASSWORD = "Head-of-dept-2026"


def _seed(core: RunningCore) -> None:
    ris = core.core.ris
    today = clock.today()
    for n, (code, patient_class) in enumerate(
        [("CT-CHEST", "outpatient"), ("CT-HEAD", "inpatient"), ("MR-HEAD", "outpatient")]
    ):
        ris.register_patient(PatientIn(f"P{n}", "王^建国"), username="reg")
        ris.create_visit(f"P{n}", "", VisitIn(f"V{n}", patient_class=patient_class), username="his")
        at = clock.from_local(datetime.combine(today, datetime.min.time()).replace(hour=8 + n))
        order = OrderIn(f"O{n}", (ProcedureRequest(code, scheduled_at=at),), visit_number=f"V{n}")
        exam = ris.place_order(f"P{n}", "", order, username="his").exams[0]
        for step in ("arrived", "in_progress", "completed"):
            ris.change_status(exam.id, step, username="tech1")
    auth.create_user(
        core.core.engine, "head", HEAD_PASSWORD, "department_head", display_name="李主任"
    )


def test_department_head_reads_a_figure_exports_it_and_drills_down(
    core: RunningCore, page: tuple[Page, NetworkGuard], request: pytest.FixtureRequest
) -> None:
    tab, _guard = page
    shots = artifacts_for(request)
    _seed(core)
    tab.goto(core.base_url + "/login")
    sign_in(tab, "head", HEAD_PASSWORD)
    tab.wait_for_url("**/statistics")  # the department head's own start page
    tab.wait_for_load_state("networkidle")
    tab.click("text=各设备类型检查量")
    tab.wait_for_load_state("networkidle")
    rows = tab.locator("#figure tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("CT")
    expect(rows.first.locator("td").nth(1)).to_have_text("2")
    expect(tab.locator("#figure tfoot td").nth(1)).to_have_text("3")
    expect(tab.locator("#chart svg rect.bar")).to_have_count(4)  # 2 modalities x 2 series
    tab.screenshot(path=str(shots / "figure.png"), full_page=True)

    with tab.expect_download() as download:
        tab.click("#export-excel")
    assert download.value.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(BytesIO(download.value.path().read_bytes())).active
    assert sheet is not None
    table = [list(r) for r in sheet.iter_rows(min_row=5, values_only=True)]
    assert table[0][:2] == ["CT", 2] and table[-1][1] == 3

    tab.select_option("#filters select[name=patient_class]", "inpatient")
    tab.click("#apply")
    expect(rows).to_have_count(1)
    assert "patient_class=inpatient" in tab.url
    rows.first.click()
    tab.wait_for_url("**/statistics/exams?**")
    exams = tab.locator("#exams tbody tr")
    expect(exams).to_have_count(1)
    expect(exams.first).to_contain_text("王建国")
    expect(exams.first).to_contain_text("住院")
    expect(exams.first).not_to_contain_text("^")
    tab.screenshot(path=str(shots / "exams.png"), full_page=True)


def test_statistics_are_not_for_every_role(core: RunningCore) -> None:
    with core.api() as admin:
        assert admin.get("/api/statistics").status_code == 200
        answer = admin.get("/api/statistics/figures/volume.by_day", params={"start": "x"})
        assert answer.status_code == 422
        assert answer.json()["detail"]["code"] == "statistics.bad_range"
        assert admin.get("/api/statistics/figures/nope").status_code == 404
    auth.create_user(core.core.engine, "reg1", "Registrar-2026!", "registrar")
    with core.api("reg1", "Registrar-2026!") as registrar:
        assert registrar.get("/api/statistics/figures/volume.by_day").status_code == 403
