"""In headless Chromium: a reporting doctor opens the follow-up page, sees the due and overdue
lists and their bar chart, marks another exam by accession number, records the pathology
result and that imaging and pathology partly agree (the report then shows it), assigns an
unmatched pathology result to its exam, and closes a follow-up. No request leaves the
appliance and the scripts run under the CSP without errors.

Screenshots are kept in ``test-artifacts/test_browser_followup/<test>/``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from core_server import auth, clock
from core_server.followup import Followup, PathologyIn
from core_server.reporting import Content, Doctor
from core_server.ris import OrderIn, PatientIn, ProcedureRequest
from tests.conftest import RunningCore
from tests.e2e.browser import (
    NetworkGuard,
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
    sign_in,
)

pytestmark = pytest.mark.xdist_group("browser")
DOCTOR_PASSWORD = "Doctor-Wang-2026"


def _seed(core: RunningCore) -> list[str]:
    """Three reported exams; the first overdue, the second due today; one unmatched result."""
    ris, reporting = core.core.ris, core.core.reporting
    assert ris is not None and reporting is not None
    auth.create_user(core.core.engine, "dr_wang", DOCTOR_PASSWORD, "reporting_doctor")
    doctor = Doctor("dr_wang", "reporting_doctor")
    followup = Followup(core.core.engine, ris, reporting)
    accessions = []
    for n in range(3):
        ris.register_patient(PatientIn(f"P{n}", "王^建国"), username="reg")
        order = OrderIn(f"O{n}", (ProcedureRequest("CT-CHEST", scheduled_at=clock.now()),))
        exam = ris.place_order(f"P{n}", "", order, username="his").exams[0]
        for step in ("arrived", "in_progress", "completed"):
            ris.change_status(exam.id, step, username="tech1")
        report = reporting.start(exam.id, doctor)
        reporting.save(report.id, doctor, Content(impression="右肺上叶结节"))
        accessions.append(exam.accession_number)
        if n < 2:
            due = clock.today() - timedelta(days=1 - n)
            followup.mark(exam.id, doctor, due_date=due, note=f"复查{n}")
    followup.receive_pathology(
        PathologyIn(text="慢性炎症", numbers=("PATH-9",), patient_id="NOBODY", sender="PIS")
    )
    return accessions


def test_a_doctor_follows_up_records_pathology_and_assigns_a_result(
    core: RunningCore, page: tuple[Page, NetworkGuard], request: pytest.FixtureRequest
) -> None:
    tab, _guard = page
    shots = artifacts_for(request)
    accessions = _seed(core)
    tab.goto(core.base_url + "/login")
    sign_in(tab, "dr_wang", DOCTOR_PASSWORD)
    tab.goto(core.base_url + "/followup")
    tab.wait_for_load_state("networkidle")
    rows = tab.locator("#cases tbody tr")
    expect(rows).to_have_count(1)  # due: the one due today
    expect(rows.first).to_contain_text(accessions[1])
    expect(rows.first).to_contain_text("王建国")
    expect(rows.first).not_to_contain_text("^")
    expect(tab.locator("[data-state=overdue] .n")).to_have_text("(1)")
    expect(tab.locator("#chart svg rect.bar")).to_have_count(3)  # due, overdue, done
    expect(tab.locator("#unmatched tbody tr")).to_have_count(1)

    tab.fill("#mark-accession", accessions[2])
    tab.fill("#mark-note", "三个月后复查")
    tab.click("#mark-submit")
    expect(tab.locator("#status")).to_have_text(f"已标记 {accessions[2]}")
    expect(rows).to_have_count(2)

    tab.click("[data-state=overdue]")
    expect(rows).to_have_count(1)
    rows.first.click()
    expect(tab.locator("#detail-title")).to_contain_text(accessions[0])
    tab.fill("#clinical-diagnosis", "右肺上叶腺癌")
    tab.fill("#pathology-result", "浸润性腺癌")
    tab.select_option("#agreement", "partly")
    tab.click("#save")
    expect(tab.locator("#status")).to_have_text("已保存")
    expect(rows.first.locator("td").nth(6)).to_have_text("部分符合")
    tab.screenshot(path=str(shots / "recorded.png"), full_page=True)

    unmatched = tab.locator("#unmatched tbody tr")
    unmatched.first.locator("input").fill(accessions[0])
    unmatched.first.locator("button").click()
    expect(unmatched.first).to_contain_text("没有未匹配的病理结果")
    rows.first.click()
    expect(tab.locator("#received li")).to_contain_text("慢性炎症")

    tab.click("#finish")
    expect(tab.locator("[data-state=done] .n")).to_have_text("(1)")
    expect(rows.first).to_contain_text("没有随访记录")
    tab.screenshot(path=str(shots / "done.png"), full_page=True)

    assert core.core.reporting is not None
    report = core.core.reporting.report_for_exam(
        core.core.ris.exam_by_accession(accessions[0]).id  # type: ignore[union-attr]
    )
    assert report is not None and report.pathology_agreement == "partly"
    assert report.pathology_result == "慢性炎症"  # the assigned result is the newest


def test_the_follow_up_is_for_doctors_and_the_department_head(core: RunningCore) -> None:
    auth.create_user(core.core.engine, "reg1", "Registrar-2026!", "registrar")
    with core.api("reg1", "Registrar-2026!") as registrar:
        assert registrar.get("/api/followup").status_code == 403
    with core.api() as admin:
        answer = admin.put("/api/followup/exams/424242", json={"due_date": None})
        assert answer.status_code == 404
        assert answer.json()["detail"]["code"] == "followup.exam.not_found"
        assert admin.get("/api/followup?state=later").status_code == 422
