"""In headless Chromium, the reporting workspace (worklist and editor on one screen): a
resident writes a chest CT report (with the prior exam's signed report one click away) and
submits it, an attending edits it, sees the diff (deletions red struck through, additions
green) and signs; another doctor's lock is shown as 张医生正在编辑 and the text is read-only;
autosave keeps what was typed when the page is closed without saving; word rules stop a
submission and a reviewer sends a report back with a reason; a clinician acknowledges a
critical value. Nothing may leave the appliance. Screenshots go to
``test-artifacts/test_browser_reporting/<test>/``."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date

import pytest
from playwright.sync_api import Browser, Page, expect

from core_server import auth
from core_server.archive import Origin
from core_server.reporting import Content, Doctor
from core_server.ris import OrderIn, PatientIn, ProcedureRequest
from core_server.web.reporting import pages as pages_reporting
from tests.conftest import ADMIN_PASSWORD, RunningCore
from tests.dicom_data import encode, make_ct
from tests.e2e.browser import NetworkGuard, artifacts_for, browser, sign_in

pytestmark = pytest.mark.xdist_group("browser")
__all__ = ["browser"]  # the module's Chromium fixture

PASSWORD = "password-123"
RESIDENT = Doctor("li", "reporting_doctor")
ATTENDING = Doctor("wang", "reviewing_doctor")


def _staff(core: RunningCore) -> None:
    for username, role, name in (
        ("li", "reporting_doctor", "李医生"),
        ("zhang", "reporting_doctor", "张医生"),
        ("wang", "reviewing_doctor", "王医生"),
        ("zhao", "clinician", "赵医生"),
    ):
        auth.create_user(core.core.engine, username, PASSWORD, role, display_name=name)


def _performed_exam(core: RunningCore, patient_id: str, order: str, procedure: str) -> int:
    """A completed exam (registered, checked in, performed) of the patient."""
    ris = core.core.ris
    if not ris.find_patients(text=patient_id):
        ris.register_patient(
            PatientIn(patient_id, "张三", sex="M", birth_date=date(1970, 5, 1)), username="reg"
        )
    exam = ris.place_order(
        patient_id, "", OrderIn(order, (ProcedureRequest(procedure),)), username="reg"
    ).exams[0]
    for status in ("arrived", "in_progress", "completed"):
        ris.change_status(exam.id, status, username="tech")
    return exam.id


def _page(
    browser: Browser, core: RunningCore, username: str, path: str, password: str = PASSWORD
) -> tuple[Page, NetworkGuard]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1500, "height": 1000})
    guard = NetworkGuard(core.base_url)
    guard.attach(context)
    page = context.new_page()
    guard.watch(page)
    # Script errors count as failures (collected with the console errors).
    page.on("pageerror", lambda error: guard.console_errors.append(f"pageerror: {error}"))
    page.goto(core.base_url + path)
    sign_in(page, username, password)
    return page, guard


def _open(page: Page, accession: str) -> None:
    page.locator(f"li.rp-item[data-accession='{accession}']").click()
    expect(page.locator("#editor-body")).to_be_visible()


def _type_at_end(
    page: Page, box: str, text: str, backspaces: int = 0, *, clear: bool = False
) -> None:
    page.locator(box).click()
    if clear:  # the exam item's default template may have filled the box
        page.keyboard.press("Control+A")
        page.keyboard.press("Delete")
    page.keyboard.press("Control+End")
    for _ in range(backspaces):
        page.keyboard.press("Backspace")
    page.keyboard.type(text)


def _until(page: Page, condition: Callable[[], bool], what: str, seconds: float = 15.0) -> None:
    """Wait for something the browser does in the background (autosave, a request sent as
    the page closes) to reach the server. Waiting through the page lets Playwright pass the
    requests on (the network guard routes each one)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        page.wait_for_timeout(100)


def _clean(*guards: NetworkGuard, expected: str = "409 (Conflict)") -> None:
    """Nothing left the appliance, no CSP violation, no script error; the only console errors
    allowed are the refusals a test provokes (a lock held: 409; word rules: 422)."""
    for guard in guards:
        errors = [e for e in guard.console_errors if expected not in e]
        assert guard.outside == [] and errors == [], (guard.outside, guard.console_errors)


def test_write_submit_review_diff_sign(
    browser: Browser, core: RunningCore, request: pytest.FixtureRequest
) -> None:
    artifacts = artifacts_for(request)
    _staff(core)
    reporting = core.core.reporting
    # A prior chest X-ray of the same patient, signed last time.
    prior_exam = _performed_exam(core, "P100", "O-PRIOR", "DR-CHEST-PA")
    prior = reporting.start(prior_exam, RESIDENT)
    reporting.submit(prior.id, RESIDENT, Content("双肺纹理清晰。", "心肺未见异常。"))
    reporting.sign(prior.id, ATTENDING)
    exam_id = _performed_exam(core, "P100", "O-NOW", "CT-CHEST")
    exam = core.core.ris.exam(exam_id)
    image = make_ct(patient_id="P100", accession=exam.accession_number)
    core.core.archive.store_instance(encode(image), Origin("dimse", "CT01"))

    page, guard = _page(browser, core, "li", "/reporting")
    row = page.locator(f"li.rp-item[data-accession='{exam.accession_number}']")
    expect(row).to_contain_text("张三")
    # Pinyin initials find the patient; the filters stay in the address bar.
    page.fill("#q", "zs")
    page.select_option("#modality", "CT")
    expect(page.locator("li.rp-item")).to_have_count(1)
    assert "q=zs" in page.url and "modality=CT" in page.url
    expect(row).to_contain_text("既往 1")
    _open(page, exam.accession_number)
    expect(page.locator("#findings")).to_have_attribute("contenteditable", "true")
    # The prior exam: a prominent hint, its signed report one click away, its images in OHIF.
    expect(page.locator("#priors-toggle")).to_contain_text("1 次既往检查")
    page.click("#priors-toggle")
    prior_item = page.locator("li.rp-prior")
    prior_item.locator("button.rp-prior-open").click()
    expect(prior_item.locator(".rp-prior-text")).to_contain_text("心肺未见异常。")
    expect(page.locator("#thumbs .rp-thumb")).to_have_count(1)
    _type_at_end(page, "#findings", "右肺下叶见斑片状高密度影，大小约2.0", clear=True)
    page.locator("#toolbar [data-symbol='×']").click()
    page.keyboard.type("1.5cm。")
    _type_at_end(page, "#impression", "右肺下叶肺炎", clear=True)
    page.locator("#flag-positive").check()
    page.click("#submit")
    expect(page.locator("#report-status")).to_have_text("待审核")
    expect(page.locator("#findings")).to_have_attribute("contenteditable", "false")
    page.screenshot(path=str(artifacts / "submitted.png"), full_page=True)
    report = reporting.report_for_exam(exam_id)
    assert report is not None
    assert (report.status, report.author, report.positive) == ("submitted", "li", True)
    assert "2.0×1.5cm" in report.findings

    # The attending edits: adds advice, replaces 肺炎 with 感染; the diff shows both.
    review, review_guard = _page(browser, core, "wang", f"/reporting?exam={exam_id}")
    expect(review.locator("#findings")).to_have_attribute("contenteditable", "true")
    _type_at_end(review, "#findings", "建议复查。")
    _type_at_end(review, "#impression", "感染", backspaces=2)
    review.click("#save")
    expect(review.locator("#diff")).to_be_visible()
    expect(review.locator("#diff-between")).to_contain_text("李医生")
    deleted = review.locator("#diff-impression del.diff-del")
    added = review.locator("#diff-impression ins.diff-ins")
    expect(deleted).to_have_text("肺炎")
    expect(added).to_have_text("感染")
    expect(review.locator("#diff-findings ins.diff-ins")).to_have_text("建议复查。")
    expect(review.locator("#diff-findings del.diff-del")).to_have_count(0)
    expect(deleted).to_have_css("text-decoration-line", "line-through")
    expect(deleted).to_have_css("color", "rgb(180, 35, 24)")
    expect(added).to_have_css("color", "rgb(6, 118, 71)")
    review.screenshot(path=str(artifacts / "diff.png"), full_page=True)
    review.click("#sign")
    expect(review.locator("#confirm-dialog")).to_be_visible()  # signing asks first
    review.click("#confirm-ok")
    expect(review.locator("#report-status")).to_have_text("已签发")
    expect(review.locator("#amend")).to_be_visible()
    review.screenshot(path=str(artifacts / "signed.png"), full_page=True)
    signed = reporting.report_for_exam(exam_id)
    assert signed is not None
    assert (signed.status, signed.signed_by, signed.author) == ("signed", "wang", "li")
    assert "建议复查。" in signed.findings and "右肺下叶感染" in signed.impression
    assert core.core.ris.exam(exam_id).status == "verified"
    # Pathology follow-up, then an amendment with its reason.
    review.click(".rp-tabs [data-tab=follow-up]")
    review.fill("#pathology-result", "术后病理：机化性肺炎")
    review.select_option("#agreement", "partly")
    review.click("#follow-up-save")
    expect(review.locator("#follow-up-state")).to_have_text("随访已保存")
    review.click("#amend")
    review.fill("#reason-text", "补充随访结果")
    review.click("#reason-ok")
    expect(review.locator("#report-status")).to_have_text("草稿")
    expect(review.locator("#reject-reason")).to_contain_text("王医生")
    expect(review.locator("#reject-reason")).to_contain_text("补充随访结果")
    expect(review.locator("#findings")).to_have_attribute("contenteditable", "true")
    amended = reporting.report_for_exam(exam_id)
    assert amended is not None
    assert (amended.status, amended.amendments, amended.pathology_agreement) == (
        "draft",
        1,
        "partly",
    )
    assert amended.pathology_result == "术后病理：机化性肺炎"
    _clean(guard, review_guard)


def test_lock_held_by_another_doctor(
    browser: Browser, core: RunningCore, request: pytest.FixtureRequest
) -> None:
    artifacts = artifacts_for(request)
    _staff(core)
    exam_id = _performed_exam(core, "P200", "O-LOCK", "CT-HEAD")
    accession = core.core.ris.exam(exam_id).accession_number
    report = core.core.reporting.start(exam_id, Doctor("zhang", "reporting_doctor"))
    core.core.reporting.autosave(
        report.id, Doctor("zhang", "reporting_doctor"), Content("脑实质密度均匀。", "")
    )  # takes the lock
    page, guard = _page(browser, core, "li", "/reporting")
    expect(page.locator(f"li.rp-item[data-accession='{accession}']")).to_contain_text(
        "张医生编辑中"
    )
    _open(page, accession)
    expect(page.locator("#lock-banner")).to_be_visible()
    expect(page.locator("#lock-text")).to_contain_text("张医生正在编辑")
    expect(page.locator("#findings")).to_have_text("脑实质密度均匀。")
    expect(page.locator("#findings")).to_have_attribute("contenteditable", "false")
    expect(page.locator("#save")).to_be_disabled()
    page.screenshot(path=str(artifacts / "locked.png"), full_page=True)
    # 张医生 went home: an administrator breaks the lock, and 李医生 takes the report over.
    admin, admin_guard = _page(browser, core, "admin", f"/reporting?exam={exam_id}", ADMIN_PASSWORD)
    expect(admin.locator("#lock-text")).to_contain_text("张医生正在编辑")
    admin.click("#lock-break")
    expect(admin.locator("#lock-banner")).to_be_hidden()
    assert core.core.reporting.report(report.id).lock_holder == ""
    page.click("#lock-retry")
    # Free now, but 张医生's draft: 李医生 takes it over on purpose.
    expect(page.locator("#lock-text")).to_contain_text("张医生书写中的草稿")
    expect(page.locator("#findings")).to_have_attribute("contenteditable", "false")
    page.click("#take-over")
    expect(page.locator("#lock-banner")).to_be_hidden()
    expect(page.locator("#findings")).to_have_attribute("contenteditable", "true")
    assert core.core.reporting.report(report.id).lock_holder == "li"
    # A structured template found by keyword, inserted with one click: its fields as a form.
    page.fill("#template-q", "肺结节")
    template = page.locator("#templates li")
    expect(template).to_have_count(1)
    expect(template).to_contain_text("胸部CT肺结节（结构化）")
    template.locator("button").click()
    expect(page.locator("#findings")).to_contain_text("脑实质密度均匀。右肺__叶")
    # F2 selects the template's next __ blank: typing fills it.
    page.locator("#findings").click()
    page.keyboard.press("Control+Home")
    page.keyboard.press("F2")
    page.keyboard.type("下")
    page.keyboard.press("F2")
    page.keyboard.type("外基底")
    expect(page.locator("#findings")).to_contain_text("右肺下叶外基底段见一__结节")
    page.select_option("#field-location", "右肺下叶")
    page.fill("#field-diameter", "6")
    page.screenshot(path=str(artifacts / "template.png"), full_page=True)

    def fields_saved() -> bool:
        return core.core.reporting.report(report.id).fields.get("diameter") == 6

    _until(page, fields_saved, "the structured fields were autosaved")
    saved = core.core.reporting.report(report.id)
    assert saved.fields["location"] == "右肺下叶" and saved.template_id is not None
    assert "右肺下叶外基底段" in saved.findings
    _clean(guard, admin_guard)


def test_autosave_survives_a_closed_page(
    browser: Browser,
    core: RunningCore,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    artifacts = artifacts_for(request)
    # No periodic save during the test: only the page's own leaving can have saved the text.
    monkeypatch.setattr(pages_reporting, "AUTOSAVE_SECONDS", 3600)
    _staff(core)
    exam_id = _performed_exam(core, "P300", "O-SAVE", "CT-ABD")
    page, guard = _page(browser, core, "li", f"/reporting?exam={exam_id}")
    expect(page.locator("#findings")).to_have_attribute("contenteditable", "true")
    _type_at_end(page, "#findings", "肝脏形态大小正常，密度均匀", clear=True)
    # Rich text: the sentence in bold, then a superscript (cm²).
    page.keyboard.press("Shift+Home")
    page.locator("#toolbar [data-command=bold]").click()
    page.keyboard.press("End")
    page.locator("#toolbar [data-command=bold]").click()
    page.keyboard.type("，面积约3cm")
    page.locator("#toolbar [data-command=superscript]").click()
    page.keyboard.type("2")
    again = page.context.new_page()
    guard.watch(again)
    # Closed without saving: the page's pagehide handler sends the text (fetch keepalive).
    page.close(run_before_unload=True)

    def saved() -> bool:
        report = core.core.reporting.report_for_exam(exam_id)
        return report is not None and "cm<sup>2</sup>" in report.findings

    _until(again, saved, "the typed findings reached the server")
    again.goto(f"{core.base_url}/reporting?exam={exam_id}")
    expect(again.locator("#findings")).to_have_text("肝脏形态大小正常，密度均匀，面积约3cm2")
    expect(again.locator("#findings b")).to_have_text("肝脏形态大小正常，密度均匀")
    expect(again.locator("#findings sup")).to_have_text("2")
    expect(again.locator("#findings")).to_have_attribute("contenteditable", "true")
    again.screenshot(path=str(artifacts / "reopened.png"), full_page=True)
    _clean(guard)


def test_word_rules_and_reject_with_reason(
    browser: Browser, core: RunningCore, request: pytest.FixtureRequest
) -> None:
    artifacts = artifacts_for(request)
    _staff(core)
    core.core.reporting.add_word_rule(
        "exclusive", "未见异常", other="结节", message="「未见异常」与「结节」矛盾"
    )
    exam_id = _performed_exam(core, "P500", "O-RULE", "CT-CHEST")
    page, guard = _page(browser, core, "li", f"/reporting?exam={exam_id}")
    expect(page.locator("#findings")).to_have_attribute("contenteditable", "true")
    _type_at_end(page, "#findings", "右肺上叶见一结节。", clear=True)
    _type_at_end(page, "#impression", "未见异常", clear=True)
    page.click("#submit")
    expect(page.locator("#error")).to_contain_text("「未见异常」与「结节」矛盾")
    expect(page.locator("#report-status")).to_have_text("草稿")
    page.screenshot(path=str(artifacts / "word-rule.png"), full_page=True)
    _type_at_end(page, "#impression", "右肺上叶结节", clear=True)
    page.click("#submit")
    expect(page.locator("#report-status")).to_have_text("待审核")
    expect(page.locator("#error")).to_be_hidden()

    review, review_guard = _page(browser, core, "wang", f"/reporting?exam={exam_id}")
    expect(review.locator("#reject")).to_be_visible()
    review.click("#reject")
    review.fill("#reason-text", "请补充结节大小")
    review.click("#reason-ok")
    expect(review.locator("#report-status")).to_have_text("草稿")

    page.reload()
    expect(page.locator("#reject-reason")).to_contain_text("王医生")
    expect(page.locator("#reject-reason")).to_contain_text("请补充结节大小")
    expect(page.locator("#findings")).to_have_attribute("contenteditable", "true")
    page.screenshot(path=str(artifacts / "rejected.png"), full_page=True)
    report = core.core.reporting.report_for_exam(exam_id)
    assert report is not None and (report.status, report.author) == ("draft", "li")
    assert core.core.ris.exam(exam_id).status == "completed"
    _clean(guard, review_guard, expected="422 (Unprocessable Entity)")


def test_clinician_acknowledges_a_critical_value(
    browser: Browser, core: RunningCore, request: pytest.FixtureRequest
) -> None:
    artifacts = artifacts_for(request)
    _staff(core)
    exam_id = _performed_exam(core, "P400", "O-CRIT", "CT-HEAD")
    accession = core.core.ris.exam(exam_id).accession_number
    page, guard = _page(browser, core, "li", f"/reporting?exam={exam_id}")
    expect(page.locator("#findings")).to_have_attribute("contenteditable", "true")
    page.click("#raise-critical")
    page.fill("#reason-text", "左侧基底节区急性脑出血")
    page.click("#reason-ok")
    expect(page.locator("#flag-badges")).to_contain_text("危急值")
    (alert,) = core.core.reporting.alerts(status="open")
    assert (alert.accession_number, alert.raised_by) == (accession, "li")

    ward, ward_guard = _page(browser, core, "zhao", "/critical-alerts")
    row = ward.locator(f"tr.rp-alert[data-accession='{accession}']")
    expect(row).to_contain_text("左侧基底节区急性脑出血")
    expect(row).to_contain_text("张三")
    expect(row).to_contain_text("李医生")  # who raised it, by display name
    ward.once("dialog", lambda dialog: dialog.accept("已通知神经外科会诊"))
    row.locator("[data-action=acknowledge]").click()
    ward.select_option("#alert-status", "acknowledged")
    expect(row).to_contain_text("已通知神经外科会诊")
    ward.screenshot(path=str(artifacts / "acknowledged.png"), full_page=True)
    done = core.core.reporting.alert(alert.id)
    assert (done.status, done.acknowledged_by) == ("acknowledged", "zhao")
    _clean(guard, ward_guard)


def test_a_long_worklist_comes_in_pages(
    browser: Browser, core: RunningCore, request: pytest.FixtureRequest
) -> None:
    """101 exams to report: the first 100 show with the count of all, "加载更多" brings the
    last one, a search starts again from its first page."""
    artifacts = artifacts_for(request)
    _staff(core)
    for number in range(101):
        _performed_exam(core, "P300", f"O-PAGE-{number}", "CT-HEAD")
    page, guard = _page(browser, core, "li", "/reporting")
    expect(page.locator("li.rp-item")).to_have_count(100)
    expect(page.locator("#worklist-status")).to_have_text("显示 100 项，共 101 项")
    page.locator("#worklist-more").click()
    expect(page.locator("li.rp-item")).to_have_count(101)
    expect(page.locator("#worklist-status")).to_have_text("共 101 项检查")
    expect(page.locator("#worklist-more")).to_be_hidden()
    page.screenshot(path=str(artifacts / "all-pages.png"), full_page=True)
    page.locator("#q").fill("nobody")
    page.locator("#search").click()
    expect(page.locator("li.rp-item")).to_have_count(0)
    expect(page.locator("#worklist-more")).to_be_hidden()
    _clean(guard)


def test_submitted_and_signed_reports_read_as_documents(
    browser: Browser, core: RunningCore, request: pytest.FixtureRequest
) -> None:
    """An HL7 patient (王^建国) shows as 王建国 in the list, the editor and the alerts; once
    submitted, the author sees the report read-only (no toolbar, no 插入, no 保存版本, the
    structured answers as text); the attending may still edit it and signs only after saying
    yes to the confirmation (cancelling leaves it unsigned); signed, it is read-only for all."""
    artifacts = artifacts_for(request)
    _staff(core)
    ris, reporting = core.core.ris, core.core.reporting
    ris.register_patient(PatientIn("P600", "王^建国", sex="M"), username="hl7")
    exam_id = _performed_exam(core, "P600", "O-READ", "CT-CHEST")
    accession = ris.exam(exam_id).accession_number
    template = next(t for t in reporting.templates("li") if t.fields)
    answers = {
        f.id: f.choices[0] if f.type == "choice" else 6 if f.type == "number" else "2026-01-05"
        for f in template.fields
        if f.type != "text"
    }
    report = reporting.start(exam_id, RESIDENT)
    text = Content("<p>右肺上叶见一结节。</p>", "<p>右肺上叶结节。</p>", answers, template.id)
    reporting.autosave(report.id, RESIDENT, text)
    reporting.submit(report.id, RESIDENT)
    reporting.raise_critical(report.id, RESIDENT, "右肺上叶结节")

    page, guard = _page(browser, core, "li", "/reporting")
    row = page.locator(f"li.rp-item[data-accession='{accession}']")
    expect(row.locator(".rp-name")).to_have_text("王建国")
    _open(page, accession)
    expect(page.locator("#patient-name")).to_have_text("王建国")
    expect(page.locator("#report-status")).to_have_text("待审核")
    expect(page.locator("#findings")).to_have_attribute("contenteditable", "false")
    expect(page.locator("#toolbar")).to_be_hidden()
    expect(page.locator("#save")).to_be_hidden()
    expect(page.locator("#submit")).to_be_hidden()
    expect(page.locator("#sign")).to_be_hidden()
    expect(page.locator("#templates li").first).to_be_visible()
    for button in page.locator("#templates button").all():
        expect(button).to_be_hidden()  # no 插入 on a report that cannot change
    expect(page.locator("#fields input, #fields select")).to_have_count(0)
    expect(page.locator("#fields .rp-value").first).to_be_visible()
    page.screenshot(path=str(artifacts / "submitted-read-only.png"), full_page=True)

    review, review_guard = _page(browser, core, "wang", f"/reporting?exam={exam_id}")
    expect(review.locator("#findings")).to_have_attribute("contenteditable", "true")
    expect(review.locator("#toolbar")).to_be_visible()
    expect(review.locator("#save")).to_be_visible()
    review.click("#sign")
    expect(review.locator("#confirm-text")).to_contain_text("确认签发")
    review.click("#confirm-cancel")
    expect(review.locator("#confirm-dialog")).to_be_hidden()
    expect(review.locator("#report-status")).to_have_text("待审核")
    assert reporting.report(report.id).status == "submitted"
    review.click("#sign")
    review.click("#confirm-ok")
    expect(review.locator("#report-status")).to_have_text("已签发")
    expect(review.locator("#findings")).to_have_attribute("contenteditable", "false")
    expect(review.locator("#toolbar")).to_be_hidden()
    expect(review.locator("#save")).to_be_hidden()
    expect(review.locator("#amend")).to_be_visible()
    expect(review.locator("#flag-positive")).to_be_disabled()  # part of the signed result
    review.screenshot(path=str(artifacts / "signed-read-only.png"), full_page=True)
    assert reporting.report(report.id).status == "signed"

    ward, ward_guard = _page(browser, core, "zhao", "/critical-alerts")
    expect(ward.locator(f"tr.rp-alert[data-accession='{accession}']")).to_contain_text("王建国")
    assert "^" not in ward.locator("#alerts").inner_text()
    _clean(guard, review_guard, ward_guard)
