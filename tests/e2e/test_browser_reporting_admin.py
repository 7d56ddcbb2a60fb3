"""In headless Chromium, the administrator's reporting setup page ``/admin/reporting``: the
critical-value escalation time, a department's sign-off levels, a forbidden word (then a report
containing it is refused at submit through the API), a system template with a structured field
made the default of an exam item, then retired. Nothing may leave the appliance."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from core_server import auth
from core_server.ris import OrderIn, PatientIn, ProcedureRequest
from tests.conftest import RunningCore
from tests.e2e.browser import (
    artifacts_for,
    browser,  # noqa: F401  (the module's Chromium)
    open_page,
)

pytestmark = pytest.mark.xdist_group("browser")

PASSWORD = "password-123"


def _performed_exam(core: RunningCore) -> int:
    ris = core.core.ris
    ris.register_patient(
        PatientIn("P-ADM-1", "王五", sex="M", birth_date=date(1960, 1, 2)), username="reg"
    )
    exam = ris.place_order(
        "P-ADM-1", "", OrderIn("ORD-ADM-1", (ProcedureRequest("CT-CHEST"),)), username="reg"
    ).exams[0]
    for status in ("arrived", "in_progress", "completed"):
        ris.change_status(exam.id, status, username="tech")
    return exam.id


def test_reporting_setup_page(
    browser: Browser,  # noqa: F811
    core: RunningCore,
    request: pytest.FixtureRequest,
) -> None:
    artifacts: Path = artifacts_for(request)
    engine = core.core.engine
    auth.create_user(engine, "it", PASSWORD, "admin")
    auth.create_user(engine, "li", PASSWORD, "reporting_doctor", display_name="李医生")
    reporting = core.core.reporting
    assert reporting is not None
    page, guard = open_page(browser, core.base_url, "/admin/reporting", "it", PASSWORD)
    expect(page.locator("h1")).to_have_text("报告设置")

    # Escalation time and a department's levels.
    expect(page.locator("#setting-escalate")).to_have_value("10")
    page.fill("#setting-escalate", "15")
    page.click("#settings-form button[type=submit]")
    expect(page.locator("#status")).to_have_text("已保存")
    assert reporting.settings()["critical_escalate_minutes"] == 15
    page.locator("#levels tr.department[data-code=RAD] select").select_option("3")
    expect(page.locator("#status")).to_have_text("已保存")
    assert reporting.department_levels() == {"RAD": 3}

    # A forbidden word, listed once saved.
    page.select_option("#word-kind", "forbidden")
    expect(page.locator("#word-other")).to_be_hidden()
    page.fill("#word-word", "可疑恶性")
    page.fill("#word-message", "请写明具体诊断")
    page.click("#word-form button[type=submit]")
    expect(page.locator("#words tbody tr.word-rule td.word")).to_have_text("可疑恶性")

    # A system template with a structured field, made the default of CT-CHEST.
    page.click("#add-template")
    page.fill("#template-name", "胸部CT常规")
    expect(page.locator("#template-department")).to_be_disabled()  # a system template
    page.select_option("#template-scope", "department")
    expect(page.locator("#template-department")).to_be_enabled()  # with a department chosen
    expect(page.locator("#template-department")).not_to_have_value("")
    page.select_option("#template-scope", "system")
    expect(page.locator("#template-department")).to_have_value("")
    page.select_option("#template-modality", "CT")
    page.fill("#template-body-part", "CHEST")
    page.fill("#template-findings", "双肺纹理清晰。\n纵隔居中。")
    page.fill("#template-impression", "胸部CT平扫未见异常。")
    page.click("#add-field")
    field = page.locator("#template-fields tbody tr.field")
    field.locator("[name=field-id]").fill("nodule_size")
    field.locator("[name=field-label]").fill("结节最大径")
    field.locator("[name=field-type]").select_option("number")
    field.locator("[name=field-unit]").fill("mm")
    page.click("#template-form button[type=submit]")
    row = page.locator("#templates tbody tr.template", has_text="胸部CT常规")
    expect(row).to_contain_text("全院")
    (template,) = [t for t in reporting.templates("it") if t.name == "胸部CT常规"]
    assert template.findings == "<p>双肺纹理清晰。</p><p>纵隔居中。</p>"
    assert [(f.id, f.type, f.unit) for f in template.fields] == [("nodule_size", "number", "mm")]
    page.locator("#defaults tr.procedure[data-code=CT-CHEST] select").select_option(
        str(template.id)
    )
    expect(page.locator("#status")).to_have_text("已保存")
    assert reporting.default_templates()["CT-CHEST"] == template.id
    page.screenshot(path=str(artifacts / "setup.png"), full_page=True)

    # A doctor's report with the forbidden word is refused at submit, its text kept.
    exam_id = _performed_exam(core)
    with core.api("li", PASSWORD) as doctor:
        started = doctor.post(f"/api/reporting/exams/{exam_id}/report")
        assert started.status_code == 201, started.text
        report = started.json()
        assert report["template_id"] == template.id  # the exam item's default
        content = {
            "findings": "<p>右肺上叶结节，可疑恶性。</p>",
            "impression": "<p>右肺结节</p>",
            "fields": {"nodule_size": 12},
        }
        refused = doctor.post(f"/api/reporting/reports/{report['id']}/submit", json=content)
        assert refused.status_code == 422
        assert "请写明具体诊断" in refused.text
        kept = doctor.get(f"/api/reporting/reports/{report['id']}").json()
        assert "可疑恶性" in kept["findings"] and kept["status"] == "draft"

    # Retired: no longer offered to doctors nor as a default; the reports keep it. The setup
    # page still lists it, marked, and can offer it again.
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="停用", exact=True).click()
    expect(row).to_have_class("template retired")
    expect(row.locator("td.name")).to_have_text("胸部CT常规 (已停用)")
    assert not reporting.template(template.id).active
    assert template.id not in [t.id for t in reporting.templates("li")]
    offered = page.locator(f"select[name='default-CT-CHEST'] option[value='{template.id}']")
    expect(offered).to_have_count(0)
    row.get_by_role("button", name="重新启用").click()
    expect(row).to_have_class("template")
    expect(row.get_by_role("button", name="停用", exact=True)).to_be_visible()
    again = reporting.template(template.id)
    assert again.active and again.fields == template.fields and again.findings == template.findings
    guard.assert_clean()
