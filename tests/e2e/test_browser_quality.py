"""In headless Chromium: a QC doctor opens /quality, grades an exam 差 with a reason picked
from the list, sends it back for a retake, and the exam's report then waits for it (the
reporting API refuses to submit it). No request leaves the appliance, no console errors.

Screenshots are kept in ``test-artifacts/test_browser_quality/<test>/``.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from playwright.sync_api import Page, expect

from core_server import auth, clock
from core_server.ris import OrderIn, PatientIn, ProcedureRequest
from tests.conftest import RunningCore
from tests.e2e.browser import (
    NetworkGuard,
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
    sign_in,
)

pytestmark = pytest.mark.xdist_group("browser")
QC_PASSWORD = "Quality-ctrl-2026"


def _seed(core: RunningCore) -> int:
    ris = core.core.ris
    ris.register_patient(PatientIn("P1", "王^建国"), username="reg")
    at = clock.from_local(datetime.combine(clock.today(), datetime.min.time()).replace(hour=8))
    order = OrderIn("O1", (ProcedureRequest("CT-CHEST", scheduled_at=at),))
    exam = ris.place_order("P1", "", order, username="his").exams[0]
    for step in ("arrived", "in_progress", "completed"):
        ris.change_status(exam.id, step, username="tech1")
    auth.create_user(core.core.engine, "qc", QC_PASSWORD, "reviewing_doctor", display_name="质控")
    return int(exam.id)


def test_qc_doctor_grades_poor_with_a_reason_and_sends_back(
    core: RunningCore, page: tuple[Page, NetworkGuard], request: pytest.FixtureRequest
) -> None:
    tab, _guard = page
    shots = artifacts_for(request)
    exam_id = _seed(core)
    tab.goto(core.base_url + "/login")
    sign_in(tab, "qc", QC_PASSWORD)
    tab.goto(core.base_url + "/quality")
    tab.wait_for_load_state("networkidle")
    rows = tab.locator("#exams tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("王建国")
    expect(rows.first).to_contain_text("未评级")
    rows.first.click()
    expect(tab.locator("#save")).to_be_enabled()  # the exam's grades are shown
    expect(tab.locator("#send-back")).to_be_disabled()
    tab.check("#grades input[value=poor]")
    tab.check("#reasons input[value=motion]")
    tab.fill("#note", "患者躁动")
    tab.click("#save")
    expect(tab.locator("#status")).to_have_text("评级已保存")
    expect(rows.first).to_contain_text("差 · 运动伪影")
    expect(tab.locator("#history li")).to_have_count(1)
    expect(tab.locator("#send-back")).to_be_enabled()
    tab.click("#send-back")
    expect(tab.locator("#status")).to_contain_text("已退回重拍")
    expect(rows.first).to_contain_text("待重拍")
    expect(tab.locator("#send-back")).to_be_disabled()
    tab.screenshot(path=str(shots / "sent_back.png"), full_page=True)

    quality = core.core.ris  # the retake is the RIS's own step
    retakes = [e for e in quality.exams(patient_id="P1", limit=10) if e.retake_of == exam_id]
    assert [(e.retake_kind, e.status) for e in retakes] == [("repeat", "arrived")]
    with core.api("qc", QC_PASSWORD) as qc:
        detail = qc.get(f"/api/quality/exams/{exam_id}").json()
        assert detail["grade"] == "poor" and detail["grades"][0]["reasons"] == ["motion"]
        assert detail["retakes"][0]["waiting"] is True
        again = qc.post(f"/api/quality/exams/{exam_id}/retake", json={})
        assert again.status_code == 409
        assert again.json()["detail"]["code"] == "quality.retake.already_waiting"


def test_quality_api_refuses_bad_input_and_other_roles(core: RunningCore) -> None:
    exam_id = _seed(core)
    with core.api("qc", QC_PASSWORD) as qc:
        bad = qc.put(f"/api/quality/exams/{exam_id}/image-grade", json={"grade": "poor"})
        assert bad.status_code == 422
        assert bad.json()["detail"]["code"] == "quality.grade.reason_needed"
        early = qc.post(f"/api/quality/exams/{exam_id}/retake", json={})
        assert early.status_code == 409
        assert early.json()["detail"]["code"] == "quality.retake.not_poor"
        assert (
            qc.post("/api/quality/reasons", json={"code": "x", "name_zh": "某"}).status_code == 403
        )
    with core.api() as admin:
        added = admin.post("/api/quality/reasons", json={"code": "gating", "name_zh": "门控失败"})
        assert added.status_code == 201
        assert (
            admin.patch("/api/quality/reasons/gating", json={"active": False}).json()["active"]
            is False
        )
    auth.create_user(core.core.engine, "reg1", "Registrar-2026!", "registrar")
    with core.api("reg1", "Registrar-2026!") as registrar:
        assert registrar.get("/api/quality/exams").status_code == 403
